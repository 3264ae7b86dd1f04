import { allSettledValues } from '../../../platform/concurrently.js';
import type { Logger } from '../../../platform/logging.js';
import type { FeedRepositories } from './repositories/index.js';
import type { UnindexedReadTimeAuthor } from './repositories/read-time-authors.js';

export interface ReadTimeIndexOptions {
  /** Authors whose followers are indexed at once (each with a bounded number of writes in flight). Defaults to 2. */
  concurrency?: number;
  /** Wait after a failed pass before the next. Defaults to 60,000 ms. */
  retryDelayMs?: number;
}

/**
 * Indexes the followers of the read-time authors marked before read_time_followees_by_user existed
 * (migrations/feed/005), whom feed reads, finding read-time authors only in that index, would otherwise leave out until
 * their next tweet. A feed process runs it in the background when it starts: it lists those authors (the table holds
 * only authors above the threshold: small), then pages each one's followers into the index and marks the author
 * indexed. Until an author is done, reads look for them among the viewer's followees (`unindexedAuthorIds`), so an
 * upgrade shows every tweet throughout. Replicas doing it at once take the authors in random order and check each
 * again before starting it; doing one twice only repeats idempotent writes. Follows arriving meanwhile are indexed as
 * they come (Fanout.followCreated). A failed pass is logged and run again after `retryDelayMs`, never thrown.
 */
export class ReadTimeFollowerIndexer {
  /** Listed, not yet done (in progress included). New marks are indexed as they are made, so it only shrinks. */
  private readonly unindexed = new Map<string, UnindexedReadTimeAuthor>();
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly concurrency: number;
  private readonly retryDelayMs: number;

  constructor(
    private readonly repositories: FeedRepositories,
    private readonly logger: Logger,
    options: ReadTimeIndexOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 2;
    this.retryDelayMs = options.retryDelayMs ?? 60_000;
  }

  /** Read-time authors whose followers may not be indexed yet: reads check the viewer's followees for them. */
  unindexedAuthorIds = (): string[] => [...this.unindexed.keys()];

  /** Resolves once the authors to index are listed (so reads know them from the start); the indexing goes on. */
  async start(): Promise<void> {
    try {
      for await (const author of this.repositories.readTimeAuthors.unindexedReadTimeAuthors())
        this.unindexed.set(author.authorId, author);
    } catch (error) {
      this.failed(error);
      return;
    }
    void this.indexListed().then(
      (indexed) => indexed > 0 && this.logger.info('indexed the followers of read-time authors', { authors: indexed }),
      (error: unknown) => this.failed(error),
    );
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retry);
  }

  private failed(error: unknown): void {
    if (this.stopped) return;
    this.logger.warn('indexing the followers of read-time authors failed; will retry', {
      error,
      retryDelayMs: this.retryDelayMs,
    });
    this.retry = setTimeout(() => void this.start(), this.retryDelayMs);
  }

  /** Returns how many authors this process indexed (others may have been done by another replica). */
  private async indexListed(): Promise<number> {
    const pending = shuffled([...this.unindexed.values()]);
    let indexed = 0;
    const worker = async () => {
      for (let author = pending.pop(); author && !this.stopped; author = pending.pop()) {
        if (!(await this.repositories.readTimeAuthors.followersIndexed(author.authorId))) {
          for await (const followerIds of this.repositories.graph.followerIdPages(author.authorId)) {
            if (this.stopped) return;
            await this.repositories.graph.indexReadTimeFollowers(author.authorId, followerIds);
          }
          await this.repositories.readTimeAuthors.completeFollowersIndexed(author);
          indexed++;
        }
        this.unindexed.delete(author.authorId);
      }
    };
    // All settle before a failure is thrown: a retry never runs beside what is left of this pass.
    await allSettledValues(Array.from({ length: this.concurrency }, worker));
    return indexed;
  }
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
