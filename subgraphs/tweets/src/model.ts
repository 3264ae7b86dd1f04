export interface TweetModel {
  id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  /** The tweet this one replies to; null for a tweet that starts a conversation. */
  inReplyToId: string | null;
  /** Set once deleted; a deleted tweet is never shown. */
  deletedAt: Date | null;
}

/** A user as other subgraphs refer to it: the key only. */
export interface UserReference {
  id: string;
}
