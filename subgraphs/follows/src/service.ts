import DataLoader from 'dataloader';
import { badUserInput, notFound, unauthenticated } from '../../shared/errors.js';
import { isUuid } from '../../shared/ids.js';
import type { RequestScope } from '../../shared/subgraph-server.js';
import type { FollowEvents } from './events.js';
import type { UserReference } from './model.js';
import type { FollowRepository } from './repository.js';

export interface FollowsServiceDeps {
  follows: FollowRepository;
  events: FollowEvents;
}

/** The social graph: who follows whom, for the viewer. One instance per request. */
export class FollowsService {
  private readonly followerCounts = new DataLoader<string, number>((ids) =>
    Promise.all(ids.map((id) => this.deps.follows.followerCount(id))),
  );
  private readonly followingCounts = new DataLoader<string, number>((ids) =>
    Promise.all(ids.map((id) => this.deps.follows.followingCount(id))),
  );

  constructor(
    private readonly deps: FollowsServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  /**
   * The viewer follows userId. Repeating it is harmless: the rows are rewritten as they were and the event is
   * published again, which idempotent consumers absorb (and which repairs a consumer that missed the first one).
   */
  async follow(userId: string): Promise<UserReference> {
    const viewerId = await this.checkTarget(userId);
    const createdAt = new Date();
    await this.deps.follows.insert(viewerId, userId, createdAt);
    await this.deps.events.created(viewerId, userId, createdAt, this.scope.correlationId);
    return { id: userId };
  }

  async unfollow(userId: string): Promise<UserReference> {
    const viewerId = await this.checkTarget(userId);
    await this.deps.follows.delete(viewerId, userId);
    await this.deps.events.deleted(viewerId, userId, this.scope.correlationId);
    return { id: userId };
  }

  followerCount(userId: string): Promise<number> {
    return this.followerCounts.load(userId);
  }

  followingCount(userId: string): Promise<number> {
    return this.followingCounts.load(userId);
  }

  private async checkTarget(userId: string): Promise<string> {
    const viewerId = this.scope.viewerId;
    if (!viewerId) throw unauthenticated();
    if (!isUuid(userId)) throw badUserInput('userId', 'userId is not a user id.');
    if (userId === viewerId) throw badUserInput('userId', 'You cannot follow yourself.');
    if (!(await this.deps.follows.userExists(userId))) throw notFound('There is no such user.');
    return viewerId;
  }
}
