import type { RequestScope } from '../../../platform/http/subgraph-server.js';
import type { FeedService } from './service.js';

export interface Context extends RequestScope {
  services: { feed: FeedService };
}
