/** A tweet as the feed lists it: its key and its author's (provided to the router); the tweets subgraph has the rest. */
export interface TweetReference {
  id: string;
  authorId: string;
}

export interface TimelineItem {
  tweetId: string;
  authorId: string;
}
