import type { RequestScope } from '../../../platform/http/subgraph-server.js';
import type { TweetsService } from './service.js';

export interface Context extends RequestScope {
  services: { tweets: TweetsService };
}
