/** A tweet as the feed knows it: the key only; the tweets subgraph resolves the rest. */
export interface TweetReference {
  id: string;
}

export interface TimelineItem {
  tweetId: string;
  authorId: string;
}
