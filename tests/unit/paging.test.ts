import { describe, expect, it } from 'vitest';

import { decodeCursor, encodeCursor, pageRequest, toConnection } from '../../platform/graphql/paging.js';

const timeuuid = 'fd073e31-e928-11f1-93ba-b06e5559fbbc';

describe('cursors', () => {
  it('round-trip a timeuuid and hide it from clients', () => {
    const cursor = encodeCursor(timeuuid);
    expect(cursor).not.toContain(timeuuid);
    expect(decodeCursor(cursor)).toEqual({ id: timeuuid, position: undefined });
    expect(decodeCursor(encodeCursor(timeuuid, 42))).toEqual({ id: timeuuid, position: 42 });
  });

  it.each([
    '',
    'garbage',
    encodeCursor('not-a-uuid'),
    Buffer.from(timeuuid).toString('base64url'),
    encodeCursor('6f1c0a52-8f3e-4a4e-9d47-1d2f7f3a9b10'),
    Buffer.from(`c1:${timeuuid}:x`).toString('base64url'),
  ])('refuse %j with BAD_USER_INPUT on after', (cursor) => {
    expect(() => decodeCursor(cursor)).toThrowError(
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'after' } }),
    );
  });
});

describe('page requests', () => {
  it('default to 20 and accept 1..100', () => {
    expect(pageRequest({})).toEqual({ limit: 20 });
    expect(pageRequest({ first: 1 }).limit).toBe(1);
    expect(pageRequest({ first: 100, after: encodeCursor(timeuuid) })).toEqual({
      limit: 100,
      afterId: timeuuid,
      position: undefined,
    });
    expect(pageRequest({ first: 5, after: encodeCursor(timeuuid, 7) })).toEqual({ limit: 5, afterId: timeuuid, position: 7 });
  });

  it.each([0, -1, 101])('refuse first = %d', (first) => {
    expect(() => pageRequest({ first })).toThrowError(
      expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: 'first' } }),
    );
  });

  it('build connections whose endCursor is the last edge', () => {
    const connection = toConnection(
      { items: [timeuuid], hasNextPage: true },
      (id) => id,
      (id) => ({ id }),
    );
    expect(connection).toEqual({
      edges: [{ cursor: encodeCursor(timeuuid), node: { id: timeuuid } }],
      pageInfo: { endCursor: encodeCursor(timeuuid), hasNextPage: true },
    });
    expect(toConnection({ items: [], hasNextPage: false }, String, String).pageInfo).toEqual({
      endCursor: null,
      hasNextPage: false,
    });
  });
});
