import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { EngagementService } from './service.js';

export interface Context extends RequestScope {
  services: { engagement: EngagementService };
}
