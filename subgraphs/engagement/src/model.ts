/** What a user does with a tweet: one engagement of each kind per user and tweet at a time. */
export type EngagementKind = 'like' | 'repost';
export const ENGAGEMENT_KINDS: readonly EngagementKind[] = ['like', 'repost'];

/** A tweet's live engagements of each kind. */
export type Counts = Record<EngagementKind, number>;
export const NO_COUNTS: Readonly<Counts> = Object.freeze({ like: 0, repost: 0 });

/** Entities of other subgraphs, by key: the router resolves the rest. */
export interface TweetReference {
  id: string;
}

export interface UserReference {
  id: string;
}
