import type { RequestScope } from '../../shared/subgraph-server.js';
import type { FollowsService } from './service.js';

export interface Context extends RequestScope {
  services: { follows: FollowsService };
}
