import type { RequestScope } from '../../../platform/http/subgraph-server.js';
import type { FollowsService } from './service.js';

export interface Context extends RequestScope {
  services: { follows: FollowsService };
}
