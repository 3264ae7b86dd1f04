import { randomUUID } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { cql } from '../../platform/cassandra/client.js';
import { MintedIds } from '../../platform/identity/minted-ids.js';
import { existsInCopy, mayBeInFlight } from '../../platform/messaging/copies.js';

const ids = new MintedIds('copies test secret');
const mintedAt = (at: number) => ids.mint('tweet', new Date(at));
const tweets = { ids, kind: 'tweet' } as const;
/** A fresh timeuuid a client made up: young, but without the owner's mark. */
const madeUpAt = (at: number) => cql.TimeUuid.fromDate(new Date(at)).toString();
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
    expect(await existsInCopy(mintedAt(Date.now() - 60_000), async () => ++lookups > 0, tweets)).toBe(true);
    expect(lookups).toBe(1);
  });

  it('is refused at once, with one lookup, when it cannot be new: old, not a timeuuid, made up, or of another kind', async () => {
    const made = [mintedAt(Date.now() - 60_000), randomUUID(), madeUpAt(Date.now()), new MintedIds('another').mint('tweet')];
    // A user's fresh id is no tweet's: it is not waited for where a tweet is looked up.
    for (const id of [...made, ids.mint('user')]) {
      let lookups = 0;
      expect(await existsInCopy(id, async () => (lookups++, false), tweets)).toBe(false);
      expect(lookups).toBe(1);
    }
  });

  it('is waited for while young, and found when its event arrives', async () => {
    let lookups = 0;
    expect(await existsInCopy(mintedAt(Date.now()), async () => ++lookups >= 4, tweets)).toBe(true);
    expect(lookups).toBe(4);
  });

  it('is SERVICE_UNAVAILABLE (never NOT_FOUND) when a young id has not arrived within the wait', async () => {
    await expect(existsInCopy(mintedAt(Date.now()), async () => false, tweets, { waitMs: 100 })).rejects.toMatchObject({
      name: 'DependencyUnavailableError',
    });
  });
});

describe('minted ids', () => {
  it('are timeuuids of the time asked, distinct within one millisecond, and recognised by their mint', () => {
    const at = new Date(NOW);
    const minted = Array.from({ length: 1_000 }, () => ids.mint('tweet', at));
    expect(new Set(minted).size).toBe(minted.length);
    for (const id of minted) {
      expect(cql.TimeUuid.fromString(id).getDate()).toEqual(at);
      expect(ids.minted(id, 'tweet')).toBe(true);
      expect(ids.minted(id, 'user')).toBe(false);
    }
  });

  it('are not recognised with another secret, nor when any of their bytes changed', () => {
    const id = ids.mint('tweet');
    expect(new MintedIds('another secret').minted(id, 'tweet')).toBe(false);
    const hex = id.replace(/-/g, '');
    // Every hex digit but the version's (which would no longer be a timeuuid) and the variant's top bits.
    for (const position of [0, 7, 13, 19, 21, 26, 31]) {
      const flipped = hex.slice(0, position) + (parseInt(hex[position], 16) ^ 1).toString(16) + hex.slice(position + 1);
      const changed = `${flipped.slice(0, 8)}-${flipped.slice(8, 12)}-${flipped.slice(12, 16)}-${flipped.slice(16, 20)}-${flipped.slice(20)}`;
      expect(ids.minted(changed, 'tweet'), `digit ${position}`).toBe(false);
    }
  });

  it('made up at random are recognised about once in 16.7 million', () => {
    const madeUp = Array.from({ length: 1_000 }, () => madeUpAt(NOW));
    expect(madeUp.filter((id) => ids.minted(id, 'tweet'))).toEqual([]);
    expect(ids.minted(randomUUID(), 'tweet')).toBe(false);
    expect(ids.minted('not an id', 'tweet')).toBe(false);
  });
});
