import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import type { BenchReport } from '../../scripts/bench-report.js';

/** A smoke run of every router benchmark scenario (2-second rounds): the harness works; the figures are not judged. */
describe('npm run bench:router -- --smoke', () => {
  it('drives every scenario against twtr, Hive Gateway and the subgraph, and records what it measured', async () => {
    const out = `bench/results/smoke-${process.pid}.json`;
    await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/bench-router.ts', '--smoke'], {
      env: { ...process.env, BENCH_OUT: out },
      maxBuffer: 16 * 1024 * 1024,
    });
    const report = JSON.parse(readFileSync(out, 'utf8')) as BenchReport;
    expect(report.results.map((result) => Object.keys(result.runs))).toEqual([
      ['twtr', 'hive'],
      ['twtr', 'hive', 'users subgraph direct'],
      ['twtr', 'hive'],
    ]);
    for (const result of report.results)
      for (const [target, [run]] of Object.entries(result.runs)) {
        expect(run.requestsPerSecond, `${result.scenario} ${target}`).toBeGreaterThan(0);
        expect(run.cpuMsPerRequest, `${result.scenario} ${target}`).toBeGreaterThan(0);
        expect(run.errors, `${result.scenario} ${target}`).toBe(0);
      }
  }, 240_000);
});
