import { randomUUID } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { cql } from '../../platform/cassandra/client.js';
import { existsInCopy, mayBeInFlight } from '../../platform/messaging/copies.js';

const mintedAt = (at: number) => cql.TimeUuid.fromDate(new Date(at)).toString();
const NOW = Date.parse('2026-12-05T12:00:00Z');

describe('an entity another subgraph owns, looked up in a copy of it', () => {
  it('may be in flight only when its id is a timeuuid minted within the horizon (or a little in the future)', () => {
    expect(mayBeInFlight(mintedAt(NOW - 1_000), NOW)).toBe(true);
    expect(mayBeInFlight(mintedAt(NOW - 29_000), NOW)).toBe(true);
    expect(mayBeInFlight(mintedAt(NOW + 1_000), NOW)).toBe(true);
    expect(mayBeInFlight(mintedAt(NOW - 31_000), NOW)).toBe(false);
    expect(mayBeInFlight(mintedAt(NOW + 60_000), NOW)).toBe(false);
    expect(mayBeInFlight(randomUUID(), NOW)).toBe(false);
    expect(mayBeInFlight('not an id', NOW)).toBe(false);
  });

  it('is found at once when the copy holds it, with one lookup', async () => {
    let lookups = 0;
    expect(await existsInCopy(mintedAt(Date.now() - 60_000), async () => ++lookups > 0)).toBe(true);
    expect(lookups).toBe(1);
  });

  it('is refused at once, with one lookup, when it cannot be new', async () => {
    for (const id of [mintedAt(Date.now() - 60_000), randomUUID()]) {
      let lookups = 0;
      expect(await existsInCopy(id, async () => (lookups++, false))).toBe(false);
      expect(lookups).toBe(1);
    }
  });

  it('is waited for while young, and found when its event arrives', async () => {
    let lookups = 0;
    expect(await existsInCopy(mintedAt(Date.now()), async () => ++lookups >= 4)).toBe(true);
    expect(lookups).toBe(4);
  });

  it('is SERVICE_UNAVAILABLE (never NOT_FOUND) when a young id has not arrived within the wait', async () => {
    await expect(existsInCopy(mintedAt(Date.now()), async () => false, { waitMs: 100 })).rejects.toMatchObject({
      name: 'DependencyUnavailableError',
    });
  });
});
