import { createHmac, timingSafeEqual } from 'node:crypto';

import { cql } from '../cassandra/client.js';
import { isTimeUuid } from '../graphql/ids.js';

/** Bytes of a timeuuid's node field that carry the mark (the rest of it, and the clock sequence, stay random). */
const MARK = { start: 13, end: 16 };

/** What an id names: a user's id is no tweet's, so one cannot stand in for the other where either is waited for. */
export type MintedKind = 'user' | 'tweet';

/**
 * Ids of the entities other subgraphs keep copies of (users, tweets): time-based uuids whose last three bytes are a
 * keyed mark of the rest. A subgraph whose copy lacks a young id must tell an entity whose event is still on its way
 * (wait for it) from an id a client made up a moment ago (NOT_FOUND at once); only twtr's services, which share the
 * internal secret, can make the mark. A made-up id passes one time in 16.7 million, and then only waits.
 */
export class MintedIds {
  private readonly key: Buffer;

  constructor(secret: string) {
    // A key of its own, derived from the internal secret: a mark never doubles as anything else signed with it.
    this.key = createHmac('sha256', secret).update('twtr minted ids v1').digest();
  }

  /** A new id, time-ordered by `at`, with random node and clock bits (unique across processes) and the mark. */
  mint(kind: MintedKind, at: Date = new Date()): string {
    const bytes = Buffer.from(cql.TimeUuid.fromDate(at).getBuffer());
    this.markOf(kind, bytes).copy(bytes, MARK.start);
    return new cql.TimeUuid(bytes).toString();
  }

  /** Whether `id` was made by mint, for this kind, with this secret. */
  minted(id: string, kind: MintedKind): boolean {
    if (!isTimeUuid(id)) return false;
    const bytes = cql.TimeUuid.fromString(id).getBuffer();
    return timingSafeEqual(this.markOf(kind, bytes), bytes.subarray(MARK.start, MARK.end));
  }

  private markOf(kind: MintedKind, bytes: Buffer): Buffer {
    return createHmac('sha256', this.key)
      .update(`${kind}:`)
      .update(bytes.subarray(0, MARK.start))
      .digest()
      .subarray(0, MARK.end - MARK.start);
  }
}
