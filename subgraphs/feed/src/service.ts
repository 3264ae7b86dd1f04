import DataLoader from 'dataloader';

import { cql } from '../../../platform/cassandra/client.js';
import { unauthenticated } from '../../../platform/errors.js';
import { pageRequest, toConnection } from '../../../platform/graphql/paging.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import { readTimeMerges } from '../../../platform/observability/metrics.js';
import type { LiveFeed } from './live.js';
import { type FeedEdgeModel, referenceOf, type TimelineItem, type TweetReference } from './model.js';
import { type EngagementCounts, type EngagementKind, NO_COUNTS, type ViewerEngagement } from './repositories/engagement-copy.js';
import { type FeedRepositories, TIMELINE_LENGTH } from './repositories/index.js';

/** What a page's query asks of its tweets' likes and reposts (their counts, the viewer's own): read with the page. */
export interface EngagementWanted {
  counts: boolean;
  viewerHas: boolean;
}
const NOTHING_WANTED: EngagementWanted = { counts: false, viewerHas: false };

/**
 * Reading the viewer's home timeline: the stored timeline merged with the recent tweets of followed authors who are
 * fanned out at read time, newest first, at most TIMELINE_LENGTH items in all.
 */
export class FeedService {
  constructor(
    private readonly repositories: FeedRepositories,
    private readonly live: LiveFeed,
    private readonly scope: RequestScope,
    /** Read-time authors whose followers are not indexed yet (ReadTimeFollowerIndexer): looked for among followees. */
    private readonly unindexedReadTimeAuthorIds: () => readonly string[] = () => [],
  ) {}

  // Every tweet of a live event in one query, at most 100 keys each (a page's are read with it). Not cached: a
  // subscription's context serves all its events.
  private readonly viewerEngagements = new DataLoader((tweetIds: readonly string[]) => this.viewerHasAmong(tweetIds), {
    cache: false,
    maxBatchSize: 100,
  });
  private readonly counts = new DataLoader((tweetIds: readonly string[]) => this.countsOf(tweetIds), {
    cache: false,
    maxBatchSize: 100,
  });

  /**
   * Whether the viewer likes (or reposted) the tweet, from the feed's copy of the engagements: as of the engagement
   * events applied so far, behind the engagement subgraph's own answer by as long as they wait in their queue.
   */
  async viewerHas(kind: EngagementKind, tweetId: string): Promise<boolean> {
    if (!this.scope.viewerId) return false;
    return (await this.viewerEngagements.load(tweetId))[kind];
  }

  /** The tweet's likes (or reposts), from the same copy. */
  async count(kind: EngagementKind, tweetId: string): Promise<number> {
    return (await this.counts.load(tweetId))[kind];
  }

  private async viewerHasAmong(tweetIds: readonly string[]): Promise<ViewerEngagement[]> {
    const engaged = await this.repositories.engagements.among(this.scope.viewerId!, tweetIds);
    return tweetIds.map((id) => ({ like: engaged.has(`like:${id}`), repost: engaged.has(`repost:${id}`) }));
  }

  private async countsOf(tweetIds: readonly string[]): Promise<EngagementCounts[]> {
    const counts = await this.repositories.engagements.counts(tweetIds);
    return tweetIds.map((id) => counts.get(id) ?? NO_COUNTS);
  }

  /**
   * The page's tweets with what its query asks of their likes and reposts, read for the whole page at once: their
   * fields then resolve without a promise each (four fields on each of a page's tweets were 80 promises, DataLoader
   * loads and async resolvers, which cost the feed more than the two queries). Read for every row of the page, those
   * shownTo leaves out too: it runs beside their reading, not after it.
   */
  private async withEngagement(nodes: TweetReference[], wanted: EngagementWanted): Promise<TweetReference[]> {
    if (!wanted.counts && !wanted.viewerHas) return nodes;
    const ids = nodes.map((node) => node.id);
    const [viewerHas, counts] = await Promise.all([
      wanted.viewerHas ? this.viewerHasAmong(ids) : undefined,
      wanted.counts ? this.countsOf(ids) : undefined,
    ]);
    return nodes.map((node, index) => ({ ...node, viewerHas: viewerHas?.[index], counts: counts?.[index] }));
  }

  /** The viewer's new timeline items as they arrive. */
  liveItems(): AsyncIterableIterator<TweetReference> {
    if (!this.scope.viewerId) throw unauthenticated();
    return this.live.subscribe(this.scope.viewerId, referenceOf);
  }

  /** The same items as feed edges: whose repost brought each, and a cursor to read on from. */
  liveEdges(): AsyncIterableIterator<FeedEdgeModel> {
    if (!this.scope.viewerId) throw unauthenticated();
    return this.live.subscribe(this.scope.viewerId, edgeOf);
  }

  async homeTimeline(args: { first?: number | null; after?: string | null }, wanted: EngagementWanted = NOTHING_WANTED) {
    const viewerId = this.scope.viewerId;
    if (!viewerId) throw unauthenticated();
    const request = pageRequest(args);
    const position = request.position ?? 0;
    const limit = Math.min(request.limit, TIMELINE_LENGTH - position);
    if (limit <= 0) return connection([], false, position);

    const [stored, readTimeAuthors] = await Promise.all([
      this.repositories.timelines.timeline(viewerId, { limit, afterId: request.afterId }),
      this.followedReadTimeAuthors(viewerId),
    ]);
    readTimeMerges.inc(readTimeAuthors.length);
    const merged = await Promise.all(
      readTimeAuthors.map(async (authorId) =>
        (await this.repositories.authorTweets.authorTweetIds(authorId, { limit: limit + 1, afterId: request.afterId })).map(
          (tweetId) => ({
            tweetId,
            authorId,
          }),
        ),
      ),
    );
    const candidates = newestFirst(dedupe([...stored.items, ...merged.flat()]));
    const read = candidates.slice(0, limit);
    const hasNextPage = (stored.hasNextPage || candidates.length > limit) && position + read.length < TIMELINE_LENGTH;
    const page = connection(read, hasNextPage, position);
    // Rows the viewer is not shown still count as read: the next page starts after the last of them, so a page whose
    // rows were all left out still leads on to older ones.
    const [shownItems, nodes] = await Promise.all([
      this.shownTo(viewerId, read),
      this.withEngagement(
        page.edges.map((edge) => edge.node),
        wanted,
      ),
    ]);
    const shown = new Set(shownItems);
    return {
      ...page,
      edges: page.edges.flatMap((edge, index) => (shown.has(read[index]) ? [{ ...edge, node: nodes[index] }] : [])),
    };
  }

  /**
   * What of a page's rows the viewer sees: no repost by someone they no longer follow (unfollowing takes the
   * reposter's own tweets out, not their reposts), and one copy of each tweet, its newest row (a tweet may reach a
   * timeline twice: its original by a follow made after a repost of it, or two reposts fanned out at once). A page may
   * then hold fewer rows than asked.
   */
  private async shownTo(viewerId: string, items: TimelineItem[]): Promise<TimelineItem[]> {
    const reposters = new Set(
      items.flatMap((item) => (item.repostedBy && item.repostedBy !== viewerId ? [item.repostedBy] : [])),
    );
    const followed = new Set(await this.repositories.graph.followeesAmong(viewerId, [...reposters]));
    const shown = new Set<string>();
    return items.filter((item) => {
      if (item.repostedBy && item.repostedBy !== viewerId && !followed.has(item.repostedBy)) return false;
      const tweetId = item.originalId ?? item.tweetId;
      if (shown.has(tweetId)) return false;
      shown.add(tweetId);
      return true;
    });
  }

  private followedReadTimeAuthors(viewerId: string): Promise<string[]> {
    return followedReadTimeAuthors(this.repositories, viewerId, this.unindexedReadTimeAuthorIds());
  }
}

/**
 * The read-time authors a user follows, from the index of them (read_time_followees_by_user), a page at a time: what
 * a read costs grows with the read-time authors the user follows (each merged anyway), never with all their followees.
 * Entries the index still holds for an author back under the threshold, or no longer followed, are left out.
 * `unindexedAuthorIds` (authors whose followers are still being indexed, after an upgrade) are candidates too.
 */
export async function followedReadTimeAuthors(
  repositories: FeedRepositories,
  userId: string,
  unindexedAuthorIds: readonly string[] = [],
): Promise<string[]> {
  const authorIds = new Set<string>();
  for await (const candidates of concat(repositories.graph.readTimeFolloweeCandidatePages(userId), chunks(unindexedAuthorIds))) {
    if (candidates.length === 0) continue;
    const [followed, readTime] = await Promise.all([
      repositories.graph.followeesAmong(userId, candidates),
      repositories.readTimeAuthors.readTimeAuthorsAmong(candidates),
    ]);
    const stillReadTime = new Set(readTime);
    for (const authorId of followed) if (stillReadTime.has(authorId)) authorIds.add(authorId);
  }
  return [...authorIds];
}

async function* concat<T>(...sources: (Iterable<T> | AsyncIterable<T>)[]): AsyncGenerator<T> {
  for (const source of sources) yield* source;
}

/** Keys per query as the index is read (100). */
function* chunks(ids: readonly string[], size = 100): Generator<string[]> {
  for (let start = 0; start < ids.length; start += size) yield ids.slice(start, start + size);
}

/** A live item as the first edge of a feed page (one function: LiveFeed shares what it makes between subscribers). */
const edgeOf = (item: TimelineItem) => connection([item], false, 0).edges[0];

function connection(items: TimelineItem[], hasNextPage: boolean, position: number) {
  return toConnection({ items, hasNextPage }, (item) => item.tweetId, referenceOf, position);
}

function dedupe(items: TimelineItem[]): TimelineItem[] {
  return [...new Map(items.map((item) => [item.tweetId, item])).values()];
}

/** Timeuuid order, as Cassandra sorts the timeline: by time (to 100 ns), ties by id. */
function newestFirst(items: TimelineItem[]): TimelineItem[] {
  const instant = (id: string) => {
    const { date, ticks } = cql.TimeUuid.fromString(id).getDatePrecision();
    return date.getTime() * 10_000 + ticks;
  };
  return items
    .map((item) => ({ item, at: instant(item.tweetId) }))
    .sort((a, b) => b.at - a.at || (a.item.tweetId < b.item.tweetId ? 1 : -1))
    .map(({ item }) => item);
}
