import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { type BenchReport, readReport, ROUTER_REPORT, SYSTEM_REPORT, type SystemReport } from './report.js';
import { SCALING_FILE, scalingText } from './scaling.js';

/** What bench:router and bench:system recorded last (committed, so present). */
const read = <T>(path: string) => readReport<T>(path)!;

describe('SCALING.md', () => {
  it('holds the figures and the model of the latest bench:router and bench:system runs (npm run bench rewrites them)', () => {
    const committed = readFileSync(SCALING_FILE, 'utf8');
    expect(committed).toMatch(/<!-- bench:figures -->[\s\S]+<!-- bench:model -->/);
    expect(scalingText(committed, read<BenchReport>(ROUTER_REPORT), read<SystemReport>(SYSTEM_REPORT))).toBe(committed);
  });

  it('recomputes the model from the figures: twice the router CPU per feed page, about twice the router cores', () => {
    const router = read<BenchReport>(ROUTER_REPORT);
    const system = read<SystemReport>(SYSTEM_REPORT);
    const doubled: BenchReport = {
      ...router,
      results: router.results.map((result) => ({
        ...result,
        runs: Object.fromEntries(
          Object.entries(result.runs).map(([target, runs]) => [
            target,
            runs.map((run) => ({ ...run, cpuMsPerRequest: run.cpuMsPerRequest * 2 })),
          ]),
        ),
      })),
    };
    const routerCoresAt1M = (text: string) => Number(text.match(/^\| 1M \|(?:[^|]*\|){4} ([\d,]+) \|/m)![1].replace(/,/g, ''));
    const committed = readFileSync(SCALING_FILE, 'utf8');
    const before = routerCoresAt1M(scalingText(committed, router, system));
    const after = routerCoresAt1M(scalingText(committed, doubled, system));
    expect(after).toBeGreaterThanOrEqual(2 * before - 1);
    expect(after).toBeLessThanOrEqual(2 * before);
  });
});
