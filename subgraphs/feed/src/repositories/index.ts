import type { CassandraClient } from '../../../../platform/cassandra/client.js';
import { AuthorTweetsRepository } from './author-tweets.js';
import { EngagementCopyRepository } from './engagement-copy.js';
import { FollowGraphRepository } from './follow-graph.js';
import { ReadTimeAuthorsRepository } from './read-time-authors.js';
import { RepostsRepository } from './reposts.js';
import { TimelineRepository } from './timelines.js';

export { TIMELINE_LENGTH } from './trim.js';
export {
  AuthorTweetsRepository,
  EngagementCopyRepository,
  FollowGraphRepository,
  ReadTimeAuthorsRepository,
  RepostsRepository,
  TimelineRepository,
};

/** The feed keyspace (see migrations/feed), one repository per table family. */
export interface FeedRepositories {
  graph: FollowGraphRepository;
  authorTweets: AuthorTweetsRepository;
  readTimeAuthors: ReadTimeAuthorsRepository;
  timelines: TimelineRepository;
  reposts: RepostsRepository;
  engagements: EngagementCopyRepository;
}

export interface FeedRepositoryOptions {
  /** Trim timelines and authors' lists after about one in this many inserts. Defaults to 16. */
  trimEvery?: number;
  /** Timeline inserts in flight at once during fan-out. Defaults to 128. */
  fanoutConcurrency?: number;
  /** Follower ids read per page while fanning out. Defaults to 1,000. */
  followerPageSize?: number;
  /** Read-time authors a viewer follows, read per page when a feed is read (and keys per query). Defaults to 100. */
  readTimeFolloweePageSize?: number;
}

export function feedRepositories(cassandra: CassandraClient, options: FeedRepositoryOptions = {}): FeedRepositories {
  return {
    graph: new FollowGraphRepository(cassandra, options.followerPageSize, options.readTimeFolloweePageSize),
    authorTweets: new AuthorTweetsRepository(cassandra, options.trimEvery),
    readTimeAuthors: new ReadTimeAuthorsRepository(cassandra),
    timelines: new TimelineRepository(cassandra, options),
    reposts: new RepostsRepository(cassandra, options.followerPageSize),
    engagements: new EngagementCopyRepository(cassandra),
  };
}
