import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { TweetsService } from './service.js';

export interface Context extends RequestScope {
  services: { tweets: TweetsService };
}
