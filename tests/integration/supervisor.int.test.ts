import { afterEach, describe, expect, it } from 'vitest';

import { Supervisor } from '../../scripts/supervisor.js';
import { eventually } from '../support/client.js';

describe('npm start’s supervisor', () => {
  let supervisor: Supervisor;
  afterEach(async () => {
    await supervisor?.stopAll();
  });

  it('restarts a service that exits, with a growing back-off, while the others keep running', async () => {
    const logged: string[] = [];
    supervisor = new Supervisor({
      env: process.env,
      nodeArguments: [],
      initialBackoffMs: 100,
      maxBackoffMs: 400,
      log: (message) => logged.push(message),
    });
    await supervisor.start('steady', 'tests/fixtures/steady-service.mjs');
    await supervisor.start('crashing', 'tests/fixtures/crashing-service.mjs');
    const steadyPid = supervisor.pidOf('steady');

    await eventually(async () => expect(supervisor.restartsOf('crashing')).toBeGreaterThanOrEqual(3), { timeoutMs: 10_000 });
    expect(supervisor.pidOf('steady')).toBe(steadyPid);
    expect(supervisor.restartsOf('steady')).toBe(0);
    const delays = logged.map((line) => Number(/restarting it in (\d+) ms/.exec(line)?.[1]));
    expect(delays.slice(0, 4)).toEqual([100, 200, 400, 400].slice(0, Math.min(4, delays.length)));
    expect(logged[0]).toMatch(/^crashing exited unexpectedly \(3\)/);
  });

  it('stops everything, and restarts nothing after', async () => {
    supervisor = new Supervisor({ env: process.env, nodeArguments: [], initialBackoffMs: 50 });
    await supervisor.start('steady', 'tests/fixtures/steady-service.mjs');
    const pid = supervisor.pidOf('steady')!;
    await supervisor.stopAll();
    expect(() => process.kill(pid, 0)).toThrow();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(supervisor.restartsOf('steady')).toBe(0);
  });
});
