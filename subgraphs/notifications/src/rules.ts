import type { DomainEvent } from '../../../platform/messaging/events.js';
import type { NotificationKind } from './model.js';
import type { UnreadBuckets } from './retention.js';
import { notAfter } from './timeuuids.js';

/**
 * What an event asks of one recipient's notifications, about one subject: the thing a notification is about, at most
 * one notification each (`follow:<actor>`, `like:<tweet>:<actor>`, `repost:<tweet>:<actor>`, `tweet:<tweet>`).
 * - notify: the subject holds (a follow, like or repost made; a reply or mention posted);
 * - withdraw: it no longer does (undone), as of `version`;
 * - forget: its tweet was deleted: its notification goes, read or not, and nothing brings it back.
 */
export type Change =
  | {
      type: 'notify';
      recipientId: string;
      subject: string;
      kind: NotificationKind;
      actorId: string;
      tweetId: string | null;
      version: number;
    }
  | { type: 'withdraw'; recipientId: string; subject: string; version: number }
  | { type: 'forget'; recipientId: string; subject: string };

/** A subject as the recipient's partition remembers it. */
export interface SubjectState {
  /** The notification it made (kept after it was removed, so making it again puts it back where it was). */
  notificationId: string | null;
  /** Whether that notification is in the list. */
  present: boolean;
  active: boolean;
  /** The version of the last change applied; older and repeated changes are ignored. */
  version: number;
}

/** Versions of changes that have none of their own (a tweet is posted once), and of a subject forgotten for good. */
const POSTED_VERSION = 1;
const FORGOTTEN_VERSION = Number.MAX_SAFE_INTEGER;

const subjectOf = {
  follow: (actorId: string) => `follow:${actorId}`,
  engagement: (kind: 'like' | 'repost', tweetId: string, actorId: string) => `${kind}:${tweetId}:${actorId}`,
  tweet: (tweetId: string) => `tweet:${tweetId}`,
};

/**
 * What an event means for whom. Nobody is told of their own actions; a reply's parent author is told once, as
 * REPLIED, even when the reply also mentions them; each mentioned user once.
 */
export function changesOf(event: DomainEvent): Change[] {
  const changes = ((): Change[] => {
    switch (event.type) {
      case 'follow.created':
      case 'follow.deleted': {
        const { followerId, followeeId, version } = event.data;
        const subject = subjectOf.follow(followerId);
        return event.type === 'follow.created'
          ? [{ type: 'notify', recipientId: followeeId, subject, kind: 'FOLLOWED', actorId: followerId, tweetId: null, version }]
          : [{ type: 'withdraw', recipientId: followeeId, subject, version }];
      }
      case 'like.created':
      case 'like.deleted':
      case 'repost.created':
      case 'repost.deleted': {
        const { tweetId, authorId, userId, version } = event.data;
        const [kind, change] = event.type.split('.') as ['like' | 'repost', 'created' | 'deleted'];
        const subject = subjectOf.engagement(kind, tweetId, userId);
        return change === 'created'
          ? [
              {
                type: 'notify',
                recipientId: authorId,
                subject,
                kind: kind === 'like' ? 'LIKED' : 'REPOSTED',
                actorId: userId,
                tweetId,
                version,
              },
            ]
          : [{ type: 'withdraw', recipientId: authorId, subject, version }];
      }
      case 'tweet.created': {
        const { tweetId, authorId, inReplyToAuthorId, mentionIds = [] } = event.data;
        const told = (recipientId: string, kind: NotificationKind): Change => ({
          type: 'notify',
          recipientId,
          subject: subjectOf.tweet(tweetId),
          kind,
          actorId: authorId,
          tweetId,
          version: POSTED_VERSION,
        });
        return [
          ...(inReplyToAuthorId ? [told(inReplyToAuthorId, 'REPLIED')] : []),
          ...[...new Set(mentionIds)].filter((id) => id !== inReplyToAuthorId).map((id) => told(id, 'MENTIONED')),
        ];
      }
      default:
        return [];
    }
  })();
  return changes.filter((change) => change.type !== 'notify' || change.recipientId !== change.actorId);
}

/** One recipient's partition, as a round of changes reads it. */
export interface InboxState {
  readUpTo: string | null;
  unread: UnreadBuckets;
  subjects: ReadonlyMap<string, SubjectState>;
}

/** What a round writes: notifications added and removed, subjects changed, the unread buckets that moved. */
export interface RoundOutcome {
  added: { id: string; subject: string; kind: NotificationKind; actorId: string; tweetId: string | null }[];
  removed: { id: string; subject: string }[];
  subjects: Map<string, SubjectState>;
  unread: Map<number, number>;
  /** Notifications made for the first time: the ones pushed live (a subject made again is not news). */
  announced: string[];
}

/** What the rules need to know about ids: how to name a new notification, and where an existing one counts. */
export interface NotificationIds {
  newId: () => string;
  /** The unread bucket of a notification id (retention.ts). */
  bucketOf: (notificationId: string) => number;
  /** Whether a notification of this id is still kept (its bucket not expired): only such an id is used again. */
  kept: (notificationId: string) => boolean;
}

/** Applies changes, in order, to a recipient's partition. Pure: the caller reads the state and writes the outcome. */
export function applyChanges(state: InboxState, changes: readonly Change[], ids: NotificationIds): RoundOutcome {
  const { newId, bucketOf } = ids;
  const outcome: RoundOutcome = { added: [], removed: [], subjects: new Map(), unread: new Map(), announced: [] };
  const subjectNow = (subject: string) => outcome.subjects.get(subject) ?? state.subjects.get(subject);
  const isUnread = (id: string) => state.readUpTo === null || !notAfter(id, state.readUpTo);
  const countUnread = (id: string, delta: number) => {
    if (!isUnread(id)) return;
    const bucket = bucketOf(id);
    outcome.unread.set(bucket, (outcome.unread.get(bucket) ?? state.unread.get(bucket) ?? 0) + delta);
  };
  const remove = (subject: string, id: string) => {
    const wasAdded = outcome.added.findIndex((added) => added.id === id);
    if (wasAdded >= 0) outcome.added.splice(wasAdded, 1);
    else outcome.removed.push({ id, subject });
    countUnread(id, -1);
  };

  for (const change of changes) {
    const subject = subjectNow(change.subject);
    if (change.type === 'notify') {
      if (subject && subject.version >= change.version) continue;
      if (subject?.present) {
        outcome.subjects.set(change.subject, { ...subject, active: true, version: change.version });
        continue;
      }
      // Made again, it goes back where it was (unless that has expired); made for the first time, it is news.
      const earlier = subject?.notificationId && ids.kept(subject.notificationId) ? subject.notificationId : null;
      const id = earlier ?? newId();
      const removedThisRound = outcome.removed.findIndex((removed) => removed.id === id);
      if (removedThisRound >= 0) outcome.removed.splice(removedThisRound, 1);
      else
        outcome.added.push({ id, subject: change.subject, kind: change.kind, actorId: change.actorId, tweetId: change.tweetId });
      countUnread(id, +1);
      if (!subject?.notificationId) outcome.announced.push(id);
      outcome.subjects.set(change.subject, { notificationId: id, present: true, active: true, version: change.version });
    } else if (change.type === 'withdraw') {
      if (subject && subject.version >= change.version) continue;
      // Withdrawn before it was read: gone. Once read, it stays, as something that did happen.
      const removes = subject?.present === true && isUnread(subject.notificationId!);
      if (removes) remove(change.subject, subject.notificationId!);
      outcome.subjects.set(change.subject, {
        notificationId: subject?.notificationId ?? null,
        present: subject?.present === true && !removes,
        active: false,
        version: change.version,
      });
    } else {
      if (subject?.version === FORGOTTEN_VERSION) continue;
      if (subject?.present) remove(change.subject, subject.notificationId!);
      outcome.subjects.set(change.subject, {
        notificationId: subject?.notificationId ?? null,
        present: false,
        active: false,
        version: FORGOTTEN_VERSION,
      });
    }
  }
  return outcome;
}
