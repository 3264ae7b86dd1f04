import { badUserInput } from './errors.js';

/** Lists are paged by the last clustering key (a timeuuid), which clients see only as an opaque cursor. */
export interface PageRequest {
  limit: number;
  /** The clustering key to continue after, when not the first page. */
  afterId?: string;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

const MAX_PAGE_SIZE = 100;
const CURSOR_PREFIX = 'c1:';
const TIMEUUID = /^[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(id: string): string {
  return Buffer.from(CURSOR_PREFIX + id, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  const decoded = Buffer.from(cursor, 'base64url').toString('utf8');
  const id = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length) : '';
  if (!TIMEUUID.test(id)) throw badUserInput('after', 'The cursor is not valid; use a pageInfo.endCursor from an earlier page.');
  return id;
}

/** Validates connection arguments (`first` 1–100, `after` an opaque cursor). */
export function pageRequest(args: { first?: number | null; after?: string | null }): PageRequest {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput('first', `first must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  return { limit: first, afterId: args.after ? decodeCursor(args.after) : undefined };
}

/** A Relay-style connection whose nodes are identified by a timeuuid. */
export function toConnection<T, N>(page: Page<T>, cursorOf: (item: T) => string, nodeOf: (item: T) => N) {
  const edges = page.items.map((item) => ({ cursor: encodeCursor(cursorOf(item)), node: nodeOf(item) }));
  return { edges, pageInfo: { endCursor: edges.at(-1)?.cursor ?? null, hasNextPage: page.hasNextPage } };
}
