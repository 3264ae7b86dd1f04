export interface TweetModel {
  id: string;
  authorId: string;
  text: string;
  createdAt: Date;
}

/** A user as other subgraphs refer to it: the key only. */
export interface UserReference {
  id: string;
}
