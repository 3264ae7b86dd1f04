import type { SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { consumeFeedEvents } from './events.js';
import { Fanout } from './fanout.js';
import { LiveFeed } from './live.js';
import { ReadTimeFollowerIndexer } from './read-time-index.js';
import { feedRepositories } from './repositories/index.js';
import { resolvers } from './resolvers/index.js';
import { FeedService } from './service.js';

export const subgraph: SubgraphDefinition<Context> = {
  name: 'feed',
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, bus, config, logger }) {
    const repositories = feedRepositories(cassandra, { trimEvery: config.FEED_TRIM_EVERY });
    const live = new LiveFeed(bus, {
      stillExists: async (item) =>
        item.originalId && item.repostedBy
          ? !(await repositories.authorTweets.wasDeleted(item.authorId, item.originalId)) &&
            !(await repositories.reposts.wasUndone(item.repostedBy, item.tweetId))
          : repositories.authorTweets.hasTweet(item.authorId, item.tweetId),
    });
    await live.start();
    const fanout = new Fanout(repositories, bus, {
      threshold: config.FEED_FANOUT_THRESHOLD,
      chunkSize: config.FEED_FANOUT_CHUNK_SIZE,
      announce: (item, userIds) => live.announce(item, userIds),
      logger,
    });
    await consumeFeedEvents(bus, fanout, repositories.engagements, config.FEED_QUEUES);
    // Read-time authors marked before the index of their followers existed: listed, then indexed in the background (once
    // none is left, what a start costs is one read of the small read_time_authors table).
    const indexer = new ReadTimeFollowerIndexer(repositories, logger);
    await indexer.start();
    return {
      resolvers,
      context: (scope) => ({
        ...scope,
        services: { feed: new FeedService(repositories, live, scope, indexer.unindexedAuthorIds) },
      }),
      health: () => ({ liveSubscriptions: live.size }),
      stop: () => {
        indexer.stop();
        live.stop();
      },
    };
  },
};
