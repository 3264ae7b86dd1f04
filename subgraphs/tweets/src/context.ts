import type { RequestScope } from '../../shared/subgraph-server.js';
import type { TweetsService } from './service.js';

export interface Context extends RequestScope {
  services: { tweets: TweetsService };
}
