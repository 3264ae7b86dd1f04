import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../platform/config.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import { createDataSources } from '../../router/src/gateway.js';

describe("the router's signed assertions of who asks", () => {
  it('are reused within 8 MiB of keys and assertions, however long the addresses clients send', () => {
    const { users } = createDataSources(loadConfig({}));
    // The reuse is inside the data source; what it holds is what is under test.
    const viewer = users as unknown as {
      assertionFor(scope: RequestScope): string;
      assertions: Map<string, { assertion: string }>;
    };
    // Behind a trusted proxy, the client address is an X-Forwarded-For entry: up to Node's 16 KiB of headers.
    for (let n = 0; n < 300; n++)
      viewer.assertionFor({ viewerId: 'bob', clientAddress: `${n}:`.padEnd(16 << 10, 'f'), correlationId: 'c' });
    const held = [...viewer.assertions.entries()].reduce((sum, [key, { assertion }]) => sum + key.length + assertion.length, 0);
    // Counted in entries alone, all 300 (over 11 MiB) would have been kept.
    expect(held).toBeLessThanOrEqual(8 << 20);
    expect(viewer.assertions.size).toBeGreaterThan(100);
  });
});
