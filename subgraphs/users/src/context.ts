import type { RequestScope } from '../../../platform/http/subgraph-server.js';
import type { UsersService } from './service.js';

export interface Context extends RequestScope {
  services: { users: UsersService };
}
