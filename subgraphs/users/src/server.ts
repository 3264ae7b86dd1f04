import type { SubgraphDefinition } from '../../../platform/runtime.js';
import type { Context } from './context.js';
import { LoginThrottle } from './login-throttle.js';
import { UserRepository } from './repository.js';
import { resolvers } from './resolvers/index.js';
import { UsersService } from './service.js';

export const subgraph: SubgraphDefinition<Context> = {
  name: 'users',
  schemaFile: new URL('../schema.graphql', import.meta.url),
  async setup({ cassandra, outbox, rateLimits, ids, config }) {
    const deps = {
      users: new UserRepository(cassandra),
      ids,
      outbox,
      rateLimits,
      loginThrottle: new LoginThrottle(rateLimits.limiter, {
        windowSeconds: config.LOGIN_FAILURE_WINDOW_SECONDS,
        maxPerUsernameAndClient: config.LOGIN_MAX_FAILURES_PER_USERNAME_AND_CLIENT,
        maxPerUsername: config.LOGIN_MAX_FAILURES_PER_USERNAME,
        maxPerClient: config.LOGIN_MAX_FAILURES_PER_CLIENT,
        slowdownAfter: config.LOGIN_SLOWDOWN_AFTER_FAILURES,
        maxPasswordChecksPerClient: config.LOGIN_MAX_PASSWORD_CHECKS_PER_CLIENT,
        exemptLoopback: config.RATE_LIMIT_EXEMPT_LOOPBACK,
      }),
      jwtSecret: config.JWT_SECRET,
      tokenTtlSeconds: config.JWT_TTL_SECONDS,
    };
    return { resolvers, context: (scope) => ({ ...scope, services: { users: new UsersService(deps, scope) } }) };
  },
};
