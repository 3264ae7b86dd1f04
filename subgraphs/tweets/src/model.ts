export interface TweetModel {
  id: string;
  authorId: string;
  text: string;
  createdAt: Date;
  /** Set once deleted; a deleted tweet is never shown. */
  deletedAt: Date | null;
}

/** A user as other subgraphs refer to it: the key only. */
export interface UserReference {
  id: string;
}
