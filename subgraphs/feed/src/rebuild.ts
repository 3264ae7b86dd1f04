import type { TimelineItem } from './model.js';
import { type FeedRepositories, TIMELINE_LENGTH } from './repositories/index.js';
import { followedReadTimeAuthors } from './service.js';

/**
 * Recomputes one home timeline from the feed's own data: the user's own recent tweets and those of everyone they
 * follow who is fanned out on write (read-time authors are merged when the feed is read, so they are left out, as
 * in the incremental timeline), newest TIMELINE_LENGTH in all. Returns how many items it wrote.
 */
export async function rebuildTimeline(repositories: FeedRepositories, userId: string): Promise<number> {
  const followeeIds = await repositories.graph.followeeIds(userId);
  const readTimeAuthors = new Set(await followedReadTimeAuthors(repositories, userId));
  const sources = [
    { authorId: userId, limit: TIMELINE_LENGTH },
    ...followeeIds.filter((id) => !readTimeAuthors.has(id)).map((authorId) => ({ authorId, limit: TIMELINE_LENGTH })),
  ];
  const perAuthor = await Promise.all(
    sources.map(async ({ authorId, limit }) =>
      (await repositories.authorTweets.recentTweetIds(authorId, limit)).map((tweetId): TimelineItem => ({ tweetId, authorId })),
    ),
  );
  const items = perAuthor.flat();
  await repositories.timelines.replaceTimeline(userId, items);
  return Math.min(items.length, TIMELINE_LENGTH);
}
