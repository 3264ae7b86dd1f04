import { describe, expect, it } from 'vitest';

import { RecentCounts } from '../../platform/limits/recent-counts.js';
import { type Counts, NO_COUNTS } from '../../subgraphs/engagement/src/model.js';

/** A stand-in for the counting query: what it was asked; held, it answers what it read only when released. */
function counter(answer: (id: string) => Counts) {
  const asked: string[][] = [];
  const waiting: (() => void)[] = [];
  let held = false;
  const count = async (ids: string[]) => {
    asked.push(ids);
    const counts = new Map(ids.map((id) => [id, answer(id)]));
    if (held) await new Promise<void>((resolve) => waiting.push(resolve));
    return counts;
  };
  const releaseHeld = () => {
    held = false;
    for (const release of waiting.splice(0)) release();
  };
  return { asked, count, hold: () => (held = true), release: releaseHeld };
}

describe('recent counts', () => {
  it('count only the tweets not counted within the last second, in one call', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS });
    const { asked, count } = counter(() => ({ like: 3, repost: 1 }));
    await recent.read(['a', 'b'], count);
    const counts = await recent.read(['a', 'b', 'c'], count);
    expect(asked).toEqual([['a', 'b'], ['c']]);
    expect(Object.fromEntries(counts)).toEqual({
      a: { like: 3, repost: 1 },
      b: { like: 3, repost: 1 },
      c: { like: 3, repost: 1 },
    });
  });

  it('join a read of the same tweets under way instead of counting them again', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS });
    const { asked, count, hold, release } = counter((id) => ({ like: id.length, repost: 0 }));
    hold();
    const first = recent.read(['a', 'b'], count);
    const second = recent.read(['b', 'cc'], count);
    release();
    expect(Object.fromEntries(await second)).toEqual({ b: { like: 1, repost: 0 }, cc: { like: 2, repost: 0 } });
    expect(Object.fromEntries(await first)).toEqual({ a: { like: 1, repost: 0 }, b: { like: 1, repost: 0 } });
    expect(asked).toEqual([['a', 'b'], ['cc']]);
  });

  it('never join a read that began before a change made here', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS });
    let likes = 0;
    const { asked, count, hold, release } = counter(() => ({ like: likes, repost: 0 }));
    hold();
    const before = recent.read(['a'], count);
    likes = 1;
    recent.changed('a');
    const after = recent.read(['a'], count);
    release();
    expect([(await before).get('a')!.like, (await after).get('a')!.like]).toEqual([0, 1]);
    expect(asked).toEqual([['a'], ['a']]);
  });

  it('never join a read under way for longer than the ttl', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS, ttlMs: 20 });
    const { asked, count, hold, release } = counter(() => ({ like: 1, repost: 0 }));
    hold();
    const slow = recent.read(['a'], count);
    await new Promise((resolve) => setTimeout(resolve, 40));
    const later = recent.read(['a'], count);
    release();
    await Promise.all([slow, later]);
    expect(asked).toEqual([['a'], ['a']]);
  });

  it('give zero for a tweet the query found no rows for', async () => {
    const counts = await new RecentCounts({ none: NO_COUNTS }).read(['x'], async () => new Map());
    expect(counts.get('x')).toEqual({ like: 0, repost: 0 });
  });

  it('count again after the ttl', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS, ttlMs: 20 });
    const { asked, count } = counter(() => ({ like: 0, repost: 0 }));
    await recent.read(['a'], count);
    await new Promise((resolve) => setTimeout(resolve, 40));
    await recent.read(['a'], count);
    expect(asked).toEqual([['a'], ['a']]);
  });

  it('count a tweet again once this process changed it', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS });
    let likes = 1;
    const { asked, count } = counter(() => ({ like: likes, repost: 0 }));
    await recent.read(['a'], count);
    likes = 2;
    recent.changed('a');
    expect((await recent.read(['a'], count)).get('a')).toEqual({ like: 2, repost: 0 });
    expect(asked).toHaveLength(2);
  });

  it('do not keep a count read while a change was being made', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS });
    let likes = 1;
    const { asked, count, hold, release } = counter(() => ({ like: likes, repost: 0 }));
    hold();
    const before = recent.read(['a'], count);
    await Promise.resolve();
    likes = 2;
    recent.changed('a');
    release();
    expect((await before).get('a')).toEqual({ like: 1, repost: 0 });
    // The count that raced the change is not remembered: the next read asks again and sees the change.
    const { asked: askedAgain, count: countNow } = counter(() => ({ like: likes, repost: 0 }));
    expect((await recent.read(['a'], countNow)).get('a')).toEqual({ like: 2, repost: 0 });
    expect([asked, askedAgain]).toEqual([[['a']], [['a']]]);
  });

  it('keep a count read while another tweet was changed', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS });
    const { asked, count, hold, release } = counter(() => ({ like: 1, repost: 0 }));
    hold();
    const reading = recent.read(['a'], count);
    await Promise.resolve();
    recent.changed('b');
    release();
    await reading;
    await recent.read(['a'], count);
    expect(asked).toEqual([['a']]);
  });

  it('count the ttl from when the read began, not from when its answer came', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS, ttlMs: 60 });
    const { asked, count, hold, release } = counter(() => ({ like: 1, repost: 0 }));
    hold();
    const reading = recent.read(['a'], count);
    await new Promise((resolve) => setTimeout(resolve, 80));
    release();
    await reading;
    await recent.read(['a'], count);
    expect(asked).toEqual([['a'], ['a']]);
  });

  it('hold at most maxEntries tweets', async () => {
    const recent = new RecentCounts({ none: NO_COUNTS, maxEntries: 2 });
    const { asked, count } = counter(() => ({ like: 0, repost: 0 }));
    await recent.read(['a', 'b', 'c'], count);
    await recent.read(['a'], count);
    expect(asked).toEqual([['a', 'b', 'c'], ['a']]);
  });
});
