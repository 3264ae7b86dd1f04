import { cql } from '../cassandra/client.js';
import { isTimeUuid } from '../graphql/ids.js';
import type { MintedIds, MintedKind } from '../identity/minted-ids.js';
import { DependencyUnavailableError } from '../infrastructure-errors.js';

/**
 * How long after its creation an entity may still be on its way to another subgraph's copy of it: its event's trip
 * through the outbox relay, the broker and a consumer, usually milliseconds, longer while one of them restarts.
 */
export const COPY_HORIZON_MS = 30_000;
/** How long one request waits for a just-created entity to reach the copy before it asks the client to try again. */
export const COPY_WAIT_MS = 5_000;
/** Ids minted this far in the future by a clock running ahead are still taken as recent. */
const CLOCK_SKEW_MS = 2_000;

export interface CopyTiming {
  now?: () => number;
  horizonMs?: number;
  waitMs?: number;
}

/**
 * Whether the entity `id` exists, answered from a subgraph's own copy of another's entities (`holds`). The copy hears
 * of a new entity from its event a moment after the owner has answered the client, who may use it at once (follow a
 * user who just signed up, like a tweet just posted). Ids are timeuuids, which say when they were minted, and carry
 * the owner's mark (MintedIds): an id the copy does not hold is waited for while it is young enough to be in flight and
 * marked; any other (old, made up, or not a timeuuid) is refused at once. A young marked id that has still not arrived
 * after COPY_WAIT_MS is SERVICE_UNAVAILABLE (its event is held up), never NOT_FOUND.
 */
export async function existsInCopy(
  id: string,
  holds: () => Promise<boolean>,
  { ids, kind }: { ids: Pick<MintedIds, 'minted'>; kind: MintedKind },
  timing: CopyTiming = {},
): Promise<boolean> {
  const { now = Date.now, horizonMs = COPY_HORIZON_MS, waitMs = COPY_WAIT_MS } = timing;
  if (await holds()) return true;
  if (!mayBeInFlight(id, now(), horizonMs) || !ids.minted(id, kind)) return false;
  const deadline = now() + waitMs;
  for (let pause = 10; now() < deadline; pause = Math.min(pause * 2, 250)) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    if (await holds()) return true;
  }
  throw new DependencyUnavailableError(`${id} was created moments ago and has not reached this service yet`);
}

/** A timeuuid minted within the horizon (a random uuid never is: it cannot be a new entity's id). */
export function mayBeInFlight(id: string, now: number, horizonMs = COPY_HORIZON_MS): boolean {
  if (!isTimeUuid(id)) return false;
  const age = now - cql.TimeUuid.fromString(id).getDate().getTime();
  return age <= horizonMs && age >= -CLOCK_SKEW_MS;
}
