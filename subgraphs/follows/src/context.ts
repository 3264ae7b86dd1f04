import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { FollowsService } from './service.js';

export interface Context extends RequestScope {
  services: { follows: FollowsService };
}
