import { unauthenticated } from '../../shared/errors.js';
import { pageRequest, toConnection } from '../../shared/paging.js';
import type { RequestScope } from '../../shared/subgraph-server.js';
import type { TweetReference } from './model.js';
import type { TimelineRepository } from './repository.js';

/** Reading the viewer's home timeline. */
export class FeedService {
  constructor(
    private readonly timelines: TimelineRepository,
    private readonly scope: RequestScope,
  ) {}

  async homeTimeline(args: { first?: number | null; after?: string | null }) {
    if (!this.scope.viewerId) throw unauthenticated();
    const page = await this.timelines.timeline(this.scope.viewerId, pageRequest(args));
    return toConnection(
      page,
      (item) => item.tweetId,
      (item): TweetReference => ({ id: item.tweetId }),
    );
  }
}
