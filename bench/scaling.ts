import { readFileSync, writeFileSync } from 'node:fs';

import { type BenchReport, median, readReport, ROUTER_REPORT, summary, SYSTEM_REPORT, type SystemReport } from './report.js';

/**
 * SCALING.md's measured figures and model, recomputed from the latest bench:router and bench:system runs whenever
 * BENCHMARKS.md is written (the prose around them, and the assumptions, are SCALING.md's own).
 */

/** Stated assumptions (SCALING.md, "Assumptions"): change one here and in the prose together. */
const ASSUMED = {
  timelineReadsPerUserDay: 170,
  otherReadsPerUserDay: 70,
  postsPerUserDay: 3,
  /** Events on the bus per post: a post, and a third of one for the day's one follow (likes and reposts aside). */
  eventsPerPost: 4 / 3,
  peakOverAverage: 2,
  utilisation: 0.6,
  followersPerPost: 200,
  cpuMsPerTimelineRow: 0.05,
  cpuMsPerPost: 10,
  cassandraRowsPerFeedPage: 30,
  replicasWritten: 3,
  replicasRead: 2,
  rowOperationsPerCassandraCore: 10_000,
  coresPerCassandraNode: 8,
  liveShare: 0.1,
  /**
   * Router and feed CPU per live frame, each, for runs that did not measure it (before 2026-12-06: CPU profiles of a
   * bench:system-like run, `TWTR_CPU_PROFILE_DIR`).
   */
  cpuMsPerLiveFrame: 0.11,
};

interface Figures {
  routerFeedMs: number;
  subgraphFeedMs: number;
  routerProfileMs: number;
  subgraphProfileMs: number;
  subscriptionKiB: number;
  /** Router and feed CPU together per live frame. */
  liveFrameMs: number;
  /** Where liveFrameMs comes from. */
  liveFrameSource: string;
}

function figuresOf(router: BenchReport, system: SystemReport): Figures {
  const twtr = (scenario: string) => {
    const result = router.results.find((candidate) => candidate.scenario.startsWith(scenario));
    if (!result?.runs.twtr) throw new Error(`bench:router has no "${scenario}" run of twtr`);
    return summary(result.runs.twtr);
  };
  const feed = twtr('feed page (20 items, text + author), 64 connections');
  const { live1k } = system.results;
  const profile = twtr('profile query');
  return {
    routerFeedMs: feed.cpuMsPerRequest,
    subgraphFeedMs: feed.subgraphCpuMsPerRequest,
    routerProfileMs: profile.cpuMsPerRequest,
    subgraphProfileMs: profile.subgraphCpuMsPerRequest,
    // What the subscriptions hold: their heap, or the resident growth where that was larger (BENCHMARKS.md).
    subscriptionKiB:
      Math.max(system.results.idle.routerKiB, system.results.idle.routerHeapKiB) +
      Math.max(system.results.idle.feedKiB, system.results.idle.feedHeapKiB),
    ...(live1k.cpuMsPerFrame
      ? {
          liveFrameMs: live1k.cpuMsPerFrame.router + live1k.cpuMsPerFrame.feed,
          liveFrameSource: `router ${live1k.cpuMsPerFrame.router.toFixed(3)} ms + feed ${live1k.cpuMsPerFrame.feed.toFixed(3)} ms per frame, measured`,
        }
      : {
          liveFrameMs: 2 * ASSUMED.cpuMsPerLiveFrame,
          liveFrameSource: `about ${ASSUMED.cpuMsPerLiveFrame} ms per frame in each of the router and the feed, from CPU profiles`,
        }),
  };
}

const n = (value: number) => Math.round(value).toLocaleString('en-US');
const ms = (value: number) => value.toFixed(2);

function figuresTable(router: BenchReport, system: SystemReport, figures: Figures): string {
  const { fanout1k, fanout9k, idle, live1k } = system.results;
  const rowsPerSecond = (9_000 / median(fanout9k.fanoutMs)) * 1000;
  return `From the bench:router run of ${router.at} and the bench:system run of ${system.at} (BENCHMARKS.md;
bench/results/latest-router.json and latest-system.json), on the 2-core development machine with Cassandra, RabbitMQ,
the subgraphs, the router, Hive Gateway and the load generator all sharing it (so these per-request CPU figures are
pessimistic: contention inflates them).

| figure | value | source |
|---|---|---|
| router CPU per feed page (20 items, text + author, distinct viewers) | ${ms(figures.routerFeedMs)} ms → ${n(1000 / figures.routerFeedMs)} req/s per core | bench:router, feed scenario, twtr |
| the subgraphs' CPU per feed page | ${ms(figures.subgraphFeedMs)} ms → ${n(1000 / figures.subgraphFeedMs)} req/s per core | bench:router, feed scenario, subgraphs' CPU |
| router CPU per profile query (4 subgraph hops) | ${ms(figures.routerProfileMs)} ms | bench:router, profile |
| subgraphs' CPU per profile query | ${ms(figures.subgraphProfileMs)} ms | bench:router, profile |
| fan-out: post acknowledged → last of 1,000 timeline rows | ${n(median(fanout1k.fanoutMs))} ms median (raw executeConcurrent of the same rows: ${n(median(fanout1k.rawMs))} ms) | bench:system |
| fan-out: acknowledged → last of 9,000 rows (queued work items) | ${n(median(fanout9k.fanoutMs))} ms median (raw: ${n(median(fanout9k.rawMs))} ms) → about ${n(rowsPerSecond)} rows/s on this shared node | bench:system |
| live delivery to 1,000 subscribers | p50 ${n(live1k.p50)} ms, p99 ${n(live1k.p99)} ms per frame; CPU ${figures.liveFrameSource} | bench:system |
| memory per idle subscription | router ${idle.routerKiB.toFixed(1)} KiB, feed ${idle.feedKiB.toFixed(1)} KiB (resident; heap ${idle.routerHeapKiB.toFixed(1)} and ${idle.feedHeapKiB.toFixed(1)} KiB) | bench:system, ${n(idle.subscriptions)} open |`;
}

function modelTable(figures: Figures): string {
  const a = ASSUMED;
  const rows = [1e6, 1e7, 1e8].map((users) => {
    const perSecond = (perDay: number) => ((users * perDay) / 86_400) * a.peakOverAverage;
    const reads = perSecond(a.timelineReadsPerUserDay);
    const other = perSecond(a.otherReadsPerUserDay);
    const posts = perSecond(a.postsPerUserDay);
    const rows = posts * a.followersPerPost;
    const cores = (cpuMsPerSecond: number) => cpuMsPerSecond / 1000 / a.utilisation;
    const router = cores(reads * figures.routerFeedMs + other * figures.routerProfileMs);
    const subgraphs = cores(
      reads * figures.subgraphFeedMs + other * figures.subgraphProfileMs + posts * a.cpuMsPerPost + rows * a.cpuMsPerTimelineRow,
    );
    const cassandra =
      (rows * a.replicasWritten + reads * a.cassandraRowsPerFeedPage * a.replicasRead) /
      a.rowOperationsPerCassandraCore /
      a.utilisation;
    const subscriptions = users * a.liveShare;
    const memoryGiB = (subscriptions * figures.subscriptionKiB) / 1024 / 1024;
    const liveItems = rows * a.liveShare;
    const liveCores = cores(liveItems * figures.liveFrameMs);
    const events = posts * a.eventsPerPost;
    return `| ${n(users / 1e6)}M | ${n(reads)} | ${n(other)} | ${n(posts)} | ${n(rows)} | ${n(Math.ceil(router))} | ${n(Math.ceil(subgraphs))} | ${n(Math.ceil(cassandra))} (${Math.max(3, Math.ceil(cassandra / a.coresPerCassandraNode))} nodes) | 3 nodes (quorum queues), ~${n(events)} events/s | ${n(subscriptions)} (${memoryGiB.toFixed(1)} GiB) | ${n(liveItems)} (${liveCores.toFixed(1)}) |`;
  });
  return `| daily users | timeline reads/s (peak) | other reads/s | posts/s | timeline rows/s | router cores | subgraph cores | Cassandra cores (8-core nodes) | RabbitMQ | live subscriptions (memory) | live items/s (router + feed cores) |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Router cores = (reads/s × ${ms(figures.routerFeedMs)} ms + other reads/s × ${ms(figures.routerProfileMs)} ms) / ${a.utilisation}; subgraph cores add
posts × ${a.cpuMsPerPost} ms and rows × ${a.cpuMsPerTimelineRow} ms to the reads' ${ms(figures.subgraphFeedMs)} ms and ${ms(figures.subgraphProfileMs)} ms; Cassandra cores = (rows/s × ${a.replicasWritten} + reads/s ×
${a.cassandraRowsPerFeedPage} × ${a.replicasRead}) / ${n(a.rowOperationsPerCassandraCore)} / ${a.utilisation}; live cores = items/s × ${figures.liveFrameMs.toFixed(3)} ms (router and feed) / ${a.utilisation}; memory =
subscriptions × ${figures.subscriptionKiB.toFixed(1)} KiB; events/s = posts/s × 4/3 (a post, and a follow for every three).`;
}

/** SCALING.md with what lies between each `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` recomputed from these runs. */
export function scalingText(current: string, router: BenchReport, system: SystemReport): string {
  const figures = figuresOf(router, system);
  const generated: Record<string, string> = {
    figures: figuresTable(router, system, figures),
    model: modelTable(figures),
  };
  return current.replace(
    /(<!-- bench:(\w+) -->\n)[\s\S]*?(\n<!-- \/bench:\2 -->)/g,
    (whole, open: string, name: string, close: string) => (name in generated ? `${open}${generated[name]}${close}` : whole),
  );
}

export const SCALING_FILE = 'SCALING.md';

/** Rewrites SCALING.md's generated parts from the latest bench:router and bench:system runs. */
export function writeScaling(): void {
  const router = readReport<BenchReport>(ROUTER_REPORT);
  const system = readReport<SystemReport>(SYSTEM_REPORT);
  if (router && system) writeFileSync(SCALING_FILE, scalingText(readFileSync(SCALING_FILE, 'utf8'), router, system));
}
