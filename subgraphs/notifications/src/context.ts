import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { NotificationService } from './service.js';

export interface Context extends RequestScope {
  services: { notifications: NotificationService };
}
