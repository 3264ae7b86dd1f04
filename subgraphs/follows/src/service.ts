import DataLoader from 'dataloader';

import { badUserInput, notFound, unauthenticated } from '../../../platform/errors.js';
import { isUuid } from '../../../platform/graphql/ids.js';
import { pageRequest, toConnection } from '../../../platform/graphql/paging.js';
import type { MintedIds } from '../../../platform/identity/minted-ids.js';
import type { RequestScope } from '../../../platform/identity/request-scope.js';
import type { RateLimits } from '../../../platform/limits/rate-limiter.js';
import { existsInCopy } from '../../../platform/messaging/copies.js';
import type { Outbox } from '../../../platform/messaging/outbox.js';
import { followEvents } from './events.js';
import type { UserReference } from './model.js';
import type { FollowRepository, Relationship } from './repository.js';

export interface FollowsServiceDeps {
  follows: FollowRepository;
  outbox: Outbox;
  rateLimits: RateLimits;
  ids: MintedIds;
}

type PageArgs = { first?: number | null; after?: string | null };

/** The social graph: who follows whom, for the viewer. One instance per request. */
export class FollowsService {
  private readonly followerCounts = new DataLoader<string, number>((ids) =>
    Promise.all(ids.map((id) => this.deps.follows.followerCount(id))),
  );
  private readonly followingCounts = new DataLoader<string, number>((ids) =>
    Promise.all(ids.map((id) => this.deps.follows.followingCount(id))),
  );
  private readonly viewerFollows = new DataLoader<string, boolean>(async (ids) => {
    const followed = await this.deps.follows.followedAmong(this.scope.viewerId!, ids);
    return ids.map((id) => followed.has(id));
  });

  constructor(
    private readonly deps: FollowsServiceDeps,
    private readonly scope: RequestScope,
  ) {}

  /**
   * The viewer follows userId. Following someone already followed changes nothing and publishes nothing, unless the
   * first follow died between claiming the relationship and writing it: then this one finishes it.
   */
  async follow(userId: string): Promise<UserReference> {
    const viewerId = await this.checkTarget(userId);
    await this.deps.rateLimits.perViewer('follow', viewerId);
    const { relationship, isNew } = await this.deps.follows.claimFollow(viewerId, userId);
    // None: an unfollow ended it before its rows were written, and nothing needs writing.
    if (!relationship) return { id: userId };
    const { followedAt, version } = relationship;
    if (!isNew && (await this.deps.follows.followerRowSince(viewerId, userId))?.equals(followedAt)) return { id: userId };
    await this.deps.outbox.commit(
      this.deps.follows.followRows(viewerId, userId, followedAt),
      [followEvents.created(viewerId, userId, followedAt.getDate(), version, this.scope.correlationId)],
      { timestampMicros: version },
    );
    return { id: userId };
  }

  /**
   * The viewer stops following userId; harmless when not following (it only finishes an earlier unfollow that was
   * interrupted between its two writes).
   */
  async unfollow(userId: string): Promise<UserReference> {
    const viewerId = await this.checkTarget(userId);
    await this.deps.rateLimits.perViewer('follow', viewerId);
    const ended =
      (await this.deps.follows.releaseFollow(viewerId, userId)) ?? (await this.deps.follows.orphanedFollow(viewerId, userId));
    if (!ended) return { id: userId };
    // Just after the relationship's own writes: these deletes undo exactly that relationship, and lose to the writes
    // of any later one (whose version, its claim's write time, is later), whatever order the writes arrive in.
    await this.deps.outbox.commit(
      this.deps.follows.unfollowRows(viewerId, userId, ended.followedAt),
      [followEvents.deleted(viewerId, userId, ended.deleteAt, this.scope.correlationId)],
      { timestampMicros: ended.deleteAt },
    );
    return { id: userId };
  }

  followerCount(userId: string): Promise<number> {
    return this.followerCounts.load(userId);
  }

  followingCount(userId: string): Promise<number> {
    return this.followingCounts.load(userId);
  }

  async viewerIsFollowing(userId: string): Promise<boolean> {
    if (!this.scope.viewerId || !isUuid(userId)) return false;
    return this.viewerFollows.load(userId);
  }

  async followers(userId: string, args: PageArgs) {
    return connection(await this.deps.follows.followersOf(userId, pageRequest(args)));
  }

  async following(userId: string, args: PageArgs) {
    return connection(await this.deps.follows.followingOf(userId, pageRequest(args)));
  }

  private async checkTarget(userId: string): Promise<string> {
    const viewerId = this.scope.viewerId;
    if (!viewerId) throw unauthenticated();
    if (!isUuid(userId)) throw badUserInput('userId', 'userId is not a user id.');
    if (userId === viewerId) throw badUserInput('userId', 'You cannot follow yourself.');
    // A user who signed up a moment ago may not have reached follows' copy yet: existsInCopy waits for them.
    if (!(await existsInCopy(userId, () => this.deps.follows.userExists(userId), { ids: this.deps.ids, kind: 'user' })))
      throw notFound('There is no such user.');
    return viewerId;
  }
}

function connection(page: { items: Relationship[]; hasNextPage: boolean }) {
  return toConnection(
    page,
    (relationship) => relationship.followedAt,
    (relationship): UserReference => ({ id: relationship.userId }),
  );
}
