import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { UsersService } from './service.js';

export interface Context extends RequestScope {
  services: { users: UsersService };
}
