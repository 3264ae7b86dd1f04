import DataLoader from 'dataloader';

import { badUserInput, notFound, unauthenticated } from '../../../platform/errors.js';
import { isTimeUuid, isUuid } from '../../../platform/graphql/ids.js';
import { type Page, pageRequest, toConnection } from '../../../platform/graphql/paging.js';
import type { MintedIds } from '../../../platform/identity/minted-ids.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import { DependencyUnavailableError } from '../../../platform/infrastructure-errors.js';
import type { RateLimits } from '../../../platform/limits/rate-limiter.js';
import type { RecentCounts } from '../../../platform/limits/recent-counts.js';
import { existsInCopy } from '../../../platform/messaging/copies.js';
import type { Outbox } from '../../../platform/messaging/outbox.js';
import { engagementEvents } from './events.js';
import type { Counts, EngagementKind, TweetReference, UserReference } from './model.js';
import type { Engagement, EngagementRepository, KnownTweet, Listed } from './repository.js';

export interface EngagementServiceDeps {
  engagements: EngagementRepository;
  outbox: Outbox;
  rateLimits: RateLimits;
  recentCounts: RecentCounts<Counts>;
  ids: MintedIds;
}

type PageArgs = { first?: number | null; after?: string | null };

/** Likes and reposts, for the viewer. One instance per request (it holds the request's dataloaders). */
export class EngagementService {
  // Every tweet of a page in one query each: counts of both kinds (those not counted in the last second), and the
  // viewer's own engagements.
  private readonly counts = new DataLoader<string, Counts>(async (tweetIds) => {
    const counts = await this.deps.recentCounts.read(tweetIds, (missing) => this.deps.engagements.counts(missing));
    return tweetIds.map((id) => counts.get(id)!);
  });
  private readonly viewerEngagements = new DataLoader<string, Set<EngagementKind>>(async (tweetIds) => {
    const engaged = await this.deps.engagements.engagedAmong(this.scope.viewerId!, tweetIds);
    return tweetIds.map((id) => new Set((['like', 'repost'] as const).filter((kind) => engaged.has(`${kind}:${id}`))));
  });

  constructor(
    private readonly deps: EngagementServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  /**
   * The viewer engages with the tweet. Repeating it changes nothing and publishes nothing, unless the first attempt
   * died between beginning the engagement and writing its rows: then this one finishes it (once it is surely dead, so
   * two requests at once, a double click, do not both publish).
   */
  async engage(kind: EngagementKind, tweetId: string): Promise<TweetReference> {
    const viewerId = await this.admit(tweetId);
    const authorId = await this.liveTweetAuthor(tweetId);
    // Most engagements are the pair's first: begun without reading the pair first (a serial read is a Paxos round of
    // its own). One that finds a row there reads it and goes on below.
    const first = await this.deps.engagements.begin(kind, viewerId, tweetId);
    if (first) {
      await this.record(kind, 'created', { viewerId, tweetId, authorId }, first);
      return { id: tweetId };
    }
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.deps.engagements.current(kind, viewerId, tweetId);
      if (current?.active) {
        if (!(await this.deps.engagements.indexed(kind, viewerId, tweetId, current))) {
          await this.finish(kind, 'created', { viewerId, tweetId, authorId }, current);
        }
        return { id: tweetId };
      }
      const begun = await this.deps.engagements.begin(kind, viewerId, tweetId, current);
      if (begun) {
        await this.record(kind, 'created', { viewerId, tweetId, authorId }, begun);
        return { id: tweetId };
      }
      await pause(attempt);
    }
    throw new Error(`the viewer's ${kind} kept changing while it was being made`);
  }

  /** The viewer takes the engagement back; harmless when there is none (it finishes one interrupted earlier). */
  async undo(kind: EngagementKind, tweetId: string): Promise<TweetReference> {
    const viewerId = await this.admit(tweetId);
    const authorId = await this.liveTweetAuthor(tweetId);
    for (let attempt = 0; attempt < 10; attempt++) {
      const current = await this.deps.engagements.current(kind, viewerId, tweetId);
      if (!current) return { id: tweetId };
      if (!current.active) {
        if (await this.deps.engagements.indexed(kind, viewerId, tweetId, current)) {
          await this.finish(kind, 'deleted', { viewerId, tweetId, authorId }, current);
        }
        return { id: tweetId };
      }
      if (await this.deps.engagements.end(kind, viewerId, tweetId, current)) {
        await this.record(kind, 'deleted', { viewerId, tweetId, authorId }, current);
        return { id: tweetId };
      }
      await pause(attempt);
    }
    throw new Error(`the viewer's ${kind} kept changing while it was being undone`);
  }

  async count(kind: EngagementKind, tweetId: string): Promise<number> {
    return isTimeUuid(tweetId) ? (await this.counts.load(tweetId))[kind] : 0;
  }

  async viewerHas(kind: EngagementKind, tweetId: string): Promise<boolean> {
    if (!this.scope.viewerId || !isTimeUuid(tweetId)) return false;
    return (await this.viewerEngagements.load(tweetId)).has(kind);
  }

  /** Users who like the tweet, newest like first. */
  async likedBy(tweetId: string, args: PageArgs) {
    const request = pageRequest(args);
    if (!isTimeUuid(tweetId)) return connection<UserReference>({ items: [], hasNextPage: false });
    return connection<UserReference>(await this.deps.engagements.usersEngagedWith('like', tweetId, request));
  }

  /** Tweets the user likes, newest like first; tweets deleted since are left out. */
  async likes(userId: string, args: PageArgs) {
    const request = pageRequest(args);
    if (!isUuid(userId)) return connection<TweetReference>({ items: [], hasNextPage: false });
    const page = await this.deps.engagements.tweetsEngagedBy('like', userId, request);
    const deleted = await this.deps.engagements.deletedAmong(page.items.map((item) => item.id));
    // The end cursor stays the last like read, so the next page starts after it even when it was left out.
    const { edges, pageInfo } = connection<TweetReference>(page);
    return { edges: edges.filter((edge) => !deleted.has(edge.node.id)), pageInfo };
  }

  /**
   * An engagement changed whose rows and event are not written yet: the request that changed it may be writing them
   * right now (a double click) or may have died. The first is waited for, briefly; the second is finished, once the
   * change is older than any request could still be at work on it. In between, SERVICE_UNAVAILABLE: try again.
   */
  private async finish(kind: EngagementKind, change: 'created' | 'deleted', facts: Facts, engagement: Engagement) {
    if (abandoned(engagement)) return this.record(kind, change, facts, engagement);
    for (let waited = 0; waited < FINISH_WAIT_MS; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const indexed = await this.deps.engagements.indexed(kind, facts.viewerId, facts.tweetId, engagement);
      if (indexed === (change === 'created')) return;
    }
    throw new DependencyUnavailableError(`the ${kind} of ${facts.tweetId} by ${facts.viewerId} is still being made`);
  }

  /** Writes the engagement's index rows (or their deletes) with its event, at the engagement's version. */
  private async record(
    kind: EngagementKind,
    change: 'created' | 'deleted',
    { viewerId, tweetId, authorId }: Facts,
    engagement: Engagement,
  ): Promise<void> {
    // Deletes go just after the rows they undo; a later engagement of the pair has rows of its own (its own engagedAt).
    const version = change === 'created' ? engagement.version : engagement.version + 1;
    const facts = { tweetId, authorId, userId: viewerId, engagedAt: engagement.engagedAt.toString(), version };
    const rows =
      change === 'created'
        ? this.deps.engagements.indexRows(kind, viewerId, tweetId, engagement.engagedAt)
        : this.deps.engagements.unindexRows(kind, viewerId, tweetId, engagement.engagedAt);
    try {
      await this.deps.outbox.commit(rows, [engagementEvents[change](kind, facts, this.scope.correlationId)], {
        timestampMicros: version,
      });
    } finally {
      // Also when the commit failed: its rows may have landed all the same (a timeout, replayed from the batch log).
      this.deps.recentCounts.changed(tweetId);
    }
  }

  private async admit(tweetId: string): Promise<string> {
    const viewerId = this.scope.viewerId;
    if (!viewerId) throw unauthenticated();
    if (!isTimeUuid(tweetId)) throw badUserInput('tweetId', 'tweetId is not a tweet id.');
    await this.deps.rateLimits.perViewer('engage', viewerId);
    return viewerId;
  }

  /** The author of a live tweet; NOT_FOUND for one that does not exist or was deleted. */
  private async liveTweetAuthor(tweetId: string): Promise<string> {
    const seen: { tweet?: KnownTweet | null } = {};
    const exists = await existsInCopy(
      tweetId,
      async () => (seen.tweet = await this.deps.engagements.knownTweet(tweetId)) !== null,
      { ids: this.deps.ids, kind: 'tweet' },
    );
    const authorId = seen.tweet?.deleted ? null : seen.tweet?.authorId;
    if (!exists || !authorId) throw notFound('There is no such tweet.');
    return authorId;
  }
}

function connection<T extends { id: string }>(page: Page<Listed>) {
  return toConnection(
    page,
    (item) => item.engagedAt,
    (item): T => ({ id: item.id }) as T,
  );
}

type Facts = { viewerId: string; tweetId: string; authorId: string };

/**
 * How long after a change of the pair a request that made it may still be writing its rows and event: longer than all
 * of a request's steps together at their timeouts (a lightweight transaction 5 s, its read-back, the outbox commit's
 * retries 25 s and a last attempt).
 */
export const ABANDONED_AFTER_MS = 60_000;
/** How long a request waits for another's change of the same pair to be written before asking the client to retry. */
const FINISH_WAIT_MS = 2_000;

/** Whether the request that last changed the engagement is done with it, finished or dead. */
const abandoned = (engagement: Engagement, now = Date.now()) => now - engagement.changedAt > ABANDONED_AFTER_MS;

/** A short random pause before reading a pair again that another request was changing. */
const pause = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * (attempt + 1)));
