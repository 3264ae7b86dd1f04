import DataLoader from 'dataloader';

import { conflict, unauthenticated } from '../../../platform/errors.js';
import { isUuid } from '../../../platform/graphql/ids.js';
import type { MintedIds } from '../../../platform/identity/minted-ids.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import { issueAccessToken } from '../../../platform/identity/tokens.js';
import { usernameKey } from '../../../platform/identity/usernames.js';
import type { RateLimits } from '../../../platform/limits/rate-limiter.js';
import type { Outbox } from '../../../platform/messaging/outbox.js';
import { userEvents } from './events.js';
import type { LoginThrottle } from './login-throttle.js';
import type { AuthPayloadModel, UserModel } from './model.js';
import { hashPassword, passwordMatches, UNKNOWN_USER_HASH } from './passwords.js';
import type { StoredUser, UserRepository } from './repository.js';
import { checkPasswordSize, type SignUpInput, usernameForLookup, validateDisplayName, validateSignUp } from './rules.js';

export interface UsersServiceDeps {
  users: UserRepository;
  outbox: Outbox;
  loginThrottle: LoginThrottle;
  rateLimits: RateLimits;
  ids: MintedIds;
  jwtSecret: string;
  tokenTtlSeconds: number;
}

const BAD_CREDENTIALS = 'Wrong username or password.';
/** A sign-up writes its account milliseconds after claiming the name; a claim this old without one was abandoned. */
const ABANDONED_CLAIM_GRACE_MS = 60_000;

/** Accounts: sign-up, log-in and lookups. One instance per request (it holds the request's dataloader). */
export class UsersService {
  private readonly byId = new DataLoader<string, StoredUser | null>(async (ids) => {
    const found = new Map((await this.deps.users.findByIds(ids)).map((user) => [user.id, user]));
    return ids.map((id) => found.get(id) ?? null);
  });

  constructor(
    private readonly deps: UsersServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  async signUp(input: SignUpInput): Promise<AuthPayloadModel> {
    const { username, password, displayName } = validateSignUp(input);
    // Before the password is hashed: that is what makes a sign-up expensive.
    await this.deps.rateLimits.perClient('signUp', this.scope.clientAddress);
    // Minted, so a subgraph whose copy of the users has not heard of a new one yet can tell it may be in flight.
    const user: StoredUser = {
      id: this.deps.ids.mint('user'),
      username,
      displayName,
      passwordHash: await hashPassword(password),
      createdAt: new Date(),
    };
    // The name first (a lightweight transaction cannot share a batch with other partitions), then the account and
    // its user.created event together. If that write fails, the name is given back.
    const key = usernameKey(username);
    const claimed =
      (await this.deps.users.claimUsername(key, user.id)) ||
      (await this.deps.users.takeOverAbandonedClaim(key, user.id, ABANDONED_CLAIM_GRACE_MS));
    if (!claimed) throw conflict('username', `The username "${username}" is taken.`);
    try {
      await this.deps.outbox.commit([this.deps.users.insert(user)], [userEvents.created(user, this.scope.correlationId)]);
    } catch (error) {
      await this.deps.users.releaseUsername(key, user.id).catch(() => undefined);
      throw error;
    }
    return this.authPayload(user);
  }

  async logIn(username: string, password: string): Promise<AuthPayloadModel> {
    checkPasswordSize(password);
    // A name that breaks the rules cannot have an account; its attempts still count, under one shared key.
    const key = usernameForLookup(username) ?? '(invalid)';
    const attempt = await this.deps.loginThrottle.attempt(key, this.scope.clientAddress);
    let user: StoredUser | null;
    let matches: boolean;
    try {
      const userId = key === '(invalid)' ? null : await this.deps.users.findIdByUsername(key);
      user = userId ? await this.byId.load(userId) : null;
      matches = await passwordMatches(user?.passwordHash ?? UNKNOWN_USER_HASH, password);
    } catch (error) {
      // Cassandra away before the password was checked: no verdict, so nothing to count.
      await attempt.abandoned().catch(() => undefined);
      throw error;
    }
    if (!user || !matches) {
      await attempt.failed();
      throw unauthenticated(BAD_CREDENTIALS);
    }
    await attempt.succeeded();
    return this.authPayload(user);
  }

  async updateProfile(changes: { displayName?: string | null }): Promise<UserModel> {
    const viewer = await this.me();
    if (changes.displayName === undefined || changes.displayName === null) return viewer;
    const displayName = validateDisplayName(changes.displayName);
    await this.deps.rateLimits.perViewer('updateProfile', viewer.id);
    await this.deps.users.updateDisplayName(viewer.id, displayName);
    this.byId.clear(viewer.id);
    return { ...viewer, displayName };
  }

  async me(): Promise<UserModel> {
    if (!this.scope.viewerId) throw unauthenticated();
    const viewer = await this.byId.load(this.scope.viewerId);
    if (!viewer) throw unauthenticated('Your account no longer exists.');
    return publicUser(viewer);
  }

  async byUsername(username: string): Promise<UserModel | null> {
    const key = usernameForLookup(username);
    if (!key) return null;
    const userId = await this.deps.users.findIdByUsername(key);
    return userId ? this.byIdOrNull(userId) : null;
  }

  async byIdOrNull(id: string): Promise<UserModel | null> {
    if (!isUuid(id)) return null;
    const user = await this.byId.load(id);
    return user && publicUser(user);
  }

  private authPayload(user: StoredUser): AuthPayloadModel {
    const { token, expiresAt } = issueAccessToken(user.id, this.deps.jwtSecret, this.deps.tokenTtlSeconds);
    return { token, expiresAt, user: publicUser(user) };
  }
}

/** Never let the password hash travel further than the service. */
function publicUser({ passwordHash: _passwordHash, ...user }: StoredUser): UserModel {
  return user;
}
