export interface TweetModel {
  id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  /** The tweet this one replies to; null for a tweet that starts a conversation. */
  inReplyToId: string | null;
  /** Users the text mentions (@username), resolved when it was posted, in order of first appearance. */
  mentionIds: string[];
  /** Set once deleted; a deleted tweet is never shown. */
  deletedAt: Date | null;
}

/** A user as other subgraphs refer to it: the key only. */
export interface UserReference {
  id: string;
}
