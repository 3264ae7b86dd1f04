import {
  type CassandraClient,
  cql,
  LIGHTWEIGHT_TRANSACTION,
  outcomeUnknown,
  SERIAL_READ,
  type Statement,
} from '../../../platform/cassandra/client.js';
import type { Page, PageRequest } from '../../../platform/graphql/paging.js';
import type { NotificationKind } from './model.js';
import type { Retention } from './retention.js';
import type { InboxState, RoundOutcome, SubjectState } from './rules.js';
import { millisOf, notAfter } from './timeuuids.js';

/** Where subject rows sit in the partition (a fixed clustering value; notifications sort by their own id). */
const SUBJECT_AT = '00000000-0000-1000-8000-000000000000';
/**
 * A subject row every commit writes, so a read of named subject rows always returns a row, and with it the static
 * columns as of the same moment (and never scans the notifications' tombstones to find them).
 */
const HEAD = 'head';

/** A recipient's partition as a round reads it, with the revision a write must find unchanged. */
export interface InboxSnapshot extends InboxState {
  revision: string | null;
}

export interface ListedNotification {
  id: string;
  kind: NotificationKind;
  actorId: string;
  tweetId: string | null;
  read: boolean;
}

/** The notifications keyspace (see migrations/notifications). */
export class NotificationRepository {
  constructor(
    private readonly cassandra: CassandraClient,
    private readonly retention: Retention,
  ) {}

  newId(): string {
    return cql.TimeUuid.now().toString();
  }

  /**
   * The partition's read marker, unread buckets and revision, and the subjects asked about, in one read of named rows:
   * one consistent picture (a commit between two reads could pair a new revision with old subjects).
   */
  async snapshot(recipientId: string, subjects: readonly string[]): Promise<InboxSnapshot> {
    const result = await this.cassandra.execute(
      `SELECT subject, notification_id, present, active, version, revision, read_up_to, unread FROM inbox
       WHERE recipient_id = ? AND entry = 's' AND at = ? AND subject IN ?`,
      [recipientId, SUBJECT_AT, [HEAD, ...subjects]],
    );
    const subjectStates = new Map<string, SubjectState>();
    for (const row of result.rows) {
      if (row.get('subject') === HEAD) continue;
      subjectStates.set(row.get('subject'), {
        notificationId: row.get('notification_id')?.toString() ?? null,
        present: row.get('present') === true,
        active: row.get('active') === true,
        version: Number(row.get('version') ?? 0),
      });
    }
    const first = result.first();
    return {
      revision: first?.get('revision')?.toString() ?? null,
      readUpTo: first?.get('read_up_to')?.toString() ?? null,
      unread: unreadOf(first?.get('unread')),
      subjects: subjectStates,
    };
  }

  /** Of these tweets, the ones deleted. */
  async deletedAmong(tweetIds: readonly string[]): Promise<Set<string>> {
    if (tweetIds.length === 0) return new Set();
    const result = await this.cassandra.execute('SELECT tweet_id FROM deleted_tweets WHERE tweet_id IN ?', [tweetIds]);
    return new Set(result.rows.map((row) => row.get('tweet_id').toString()));
  }

  async markTweetDeleted(tweetId: string): Promise<void> {
    await this.cassandra.execute('INSERT INTO deleted_tweets (tweet_id) VALUES (?) USING TTL ?', [tweetId, this.keepSeconds()]);
  }

  /** The recipients of notifications about a tweet and their subjects, a page at a time (`pageState` to go on). */
  async aboutTweet(tweetId: string, pageState?: string) {
    const result = await this.cassandra.execute(
      'SELECT recipient_id, subject FROM notifications_by_tweet WHERE tweet_id = ?',
      [tweetId],
      { fetchSize: 1_000, pageState },
    );
    return {
      rows: result.rows.map((row) => ({
        recipientId: row.get('recipient_id').toString() as string,
        subject: row.get('subject') as string,
      })),
      pageState: result.pageState ?? undefined,
    };
  }

  /** Indexes new notifications by their tweet; written before the round, so a deletion meanwhile finds them. */
  async indexByTweet(recipientId: string, added: RoundOutcome['added']): Promise<void> {
    const statements = added
      .filter((notification) => notification.tweetId !== null)
      .map((notification) => ({
        query: 'INSERT INTO notifications_by_tweet (tweet_id, recipient_id, subject) VALUES (?, ?, ?) USING TTL ?',
        params: [notification.tweetId, recipientId, notification.subject, this.keepSeconds()],
      }));
    if (statements.length > 0) await this.cassandra.batch(statements, { prepare: true, logged: false });
  }

  /**
   * Writes a round's outcome if the partition is still at the revision it was read at; false when another write got
   * there first (read again and retry). A lost answer is settled by reading the revision back.
   */
  async commit(recipientId: string, snapshot: InboxSnapshot, outcome: RoundOutcome, nowMs: number): Promise<boolean> {
    const revision = this.newId();
    const statements: Statement[] = [
      {
        query: `UPDATE inbox SET revision = ? WHERE recipient_id = ? IF revision = ?`,
        params: [revision, recipientId, snapshot.revision],
      },
      this.headRow(recipientId),
      ...this.unreadStatements(recipientId, outcome.unread, nowMs),
      ...outcome.added.flatMap((notification) => {
        const ttl = this.retention.ttlSeconds(this.retention.bucketOf(millisOf(notification.id)), nowMs);
        return ttl === 0
          ? []
          : [
              {
                query: `INSERT INTO inbox (recipient_id, entry, at, subject, kind, actor_id, tweet_id) VALUES (?, 'n', ?, ?, ?, ?, ?) USING TTL ?`,
                params: [
                  recipientId,
                  notification.id,
                  notification.subject,
                  notification.kind,
                  notification.actorId,
                  notification.tweetId,
                  ttl,
                ],
              },
            ];
      }),
      ...outcome.removed.map(({ id, subject }) => ({
        query: `DELETE FROM inbox WHERE recipient_id = ? AND entry = 'n' AND at = ? AND subject = ?`,
        params: [recipientId, id, subject],
      })),
      ...[...outcome.subjects].map(([subject, state]) => ({
        query: `INSERT INTO inbox (recipient_id, entry, at, subject, notification_id, present, active, version)
                VALUES (?, 's', ?, ?, ?, ?, ?, ?) USING TTL ?`,
        params: [
          recipientId,
          SUBJECT_AT,
          subject,
          state.notificationId,
          state.present,
          state.active,
          state.version,
          this.keepSeconds(),
        ],
      })),
    ];
    return this.conditionally(recipientId, statements, revision);
  }

  /** Moves the read marker to `readUpTo`, with the unread buckets recounted from the notifications after it. */
  async markRead(recipientId: string, snapshot: InboxSnapshot, readUpTo: string, unread: Map<number, number>, nowMs: number) {
    const revision = this.newId();
    const cleared = new Map([...snapshot.unread.keys()].filter((bucket) => !unread.has(bucket)).map((bucket) => [bucket, 0]));
    return this.conditionally(
      recipientId,
      [
        {
          query: 'UPDATE inbox SET revision = ?, read_up_to = ? WHERE recipient_id = ? IF revision = ?',
          params: [revision, readUpTo, recipientId, snapshot.revision],
        },
        this.headRow(recipientId),
        ...this.unreadStatements(recipientId, new Map([...cleared, ...unread]), nowMs),
      ],
      revision,
    );
  }

  /** How many of the recipient's notifications are after `after` and before `before` (one bucket's at most). */
  async countBetween(recipientId: string, after: string, before: Date): Promise<number> {
    const result = await this.cassandra.execute(
      `SELECT COUNT(*) AS n FROM inbox WHERE recipient_id = ? AND entry = 'n' AND at > ? AND at < minTimeuuid(?)`,
      [recipientId, after, before],
    );
    return Number(result.first()?.get('n') ?? 0);
  }

  /** The recipient's notifications, newest first. */
  async page(recipientId: string, page: PageRequest): Promise<Page<ListedNotification>> {
    const select = `SELECT at, kind, actor_id, tweet_id, read_up_to FROM inbox WHERE recipient_id = ? AND entry = 'n'`;
    const [query, params] = page.afterId
      ? [`${select} AND at < ? LIMIT ?`, [recipientId, page.afterId, page.limit + 1]]
      : [`${select} LIMIT ?`, [recipientId, page.limit + 1]];
    const rows = (await this.cassandra.execute(query, params)).rows;
    const nowMs = Date.now();
    const items = rows.slice(0, page.limit).flatMap((row) => {
      const id = row.get('at').toString() as string;
      const readUpTo = row.get('read_up_to');
      // Gone from the count already (its bucket expired), about to go by TTL: gone from the list too.
      if (this.retention.expiresAtMs(this.retention.bucketOf(millisOf(id))) <= nowMs) return [];
      return [
        {
          id,
          kind: row.get('kind') as NotificationKind,
          actorId: row.get('actor_id').toString() as string,
          tweetId: row.get('tweet_id')?.toString() ?? null,
          read: readUpTo != null && notAfter(id, readUpTo.toString()),
        },
      ];
    });
    return { items, hasNextPage: rows.length > page.limit };
  }

  private headRow(recipientId: string): Statement {
    return {
      query: `INSERT INTO inbox (recipient_id, entry, at, subject) VALUES (?, 's', ?, ?)`,
      params: [recipientId, SUBJECT_AT, HEAD],
    };
  }

  private unreadStatements(recipientId: string, unread: ReadonlyMap<number, number>, nowMs: number): Statement[] {
    return [...unread].map(([bucket, count]) => {
      const ttl = this.retention.ttlSeconds(bucket, nowMs);
      return count > 0 && ttl > 0
        ? {
            query: 'UPDATE inbox USING TTL ? SET unread[?] = ? WHERE recipient_id = ?',
            params: [ttl, cql.Long.fromNumber(bucket), count, recipientId],
          }
        : { query: 'DELETE unread[?] FROM inbox WHERE recipient_id = ?', params: [cql.Long.fromNumber(bucket), recipientId] };
    });
  }

  private async conditionally(recipientId: string, statements: Statement[], revision: string): Promise<boolean> {
    try {
      return (await this.cassandra.batch(statements, { prepare: true, ...LIGHTWEIGHT_TRANSACTION })).wasApplied();
    } catch (error) {
      if (!outcomeUnknown(error)) throw error;
      const now = await this.cassandra.execute(
        'SELECT revision FROM inbox WHERE recipient_id = ? LIMIT 1',
        [recipientId],
        SERIAL_READ,
      );
      return now.first()?.get('revision')?.toString() === revision;
    }
  }

  /** How long subjects, index rows and deletion marks are kept: as long as any notification they concern. */
  private keepSeconds(): number {
    return Math.ceil(this.retention.retentionSeconds + this.retention.bucketMs / 1_000);
  }
}

function unreadOf(value: Record<string, number> | Map<unknown, number> | null | undefined): Map<number, number> {
  const unread = new Map<number, number>();
  if (!value) return unread;
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  for (const [bucket, count] of entries) unread.set(Number(String(bucket)), Number(count));
  return unread;
}
