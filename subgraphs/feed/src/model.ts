import type { EngagementCounts, ViewerEngagement } from './repositories/engagement-copy.js';

/**
 * A tweet as the feed lists it: its key and its author's (provided to the router); the tweets subgraph has the rest.
 * `repostedBy`: the user whose repost put it in the timeline, for a repost. `counts` and `viewerHas`: its likes and
 * reposts and which of them are the viewer's, when read with the page it is on.
 */
export interface TweetReference {
  id: string;
  authorId: string;
  repostedBy?: string;
  counts?: EngagementCounts;
  viewerHas?: ViewerEngagement;
}

/**
 * A timeline row. `tweetId` is its key: the tweet's id, or for a repost the repost's own timeuuid (when it was
 * reposted), with the original tweet in `originalId` and the reposter in `repostedBy`. `authorId` is the tweet's author.
 */
export interface TimelineItem {
  tweetId: string;
  authorId: string;
  originalId?: string;
  repostedBy?: string;
}

/** A timeline row as a feed edge: the tweet it shows, and where a page that reads on from it starts. */
export interface FeedEdgeModel {
  cursor: string;
  node: TweetReference;
}

/** What a timeline row shows: the tweet itself (the original, for a repost). */
export const referenceOf = (item: TimelineItem): TweetReference => ({
  id: item.originalId ?? item.tweetId,
  authorId: item.authorId,
  ...(item.repostedBy && { repostedBy: item.repostedBy }),
});
