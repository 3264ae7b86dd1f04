import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { FeedService } from './service.js';

export interface Context extends RequestScope {
  services: { feed: FeedService };
}
