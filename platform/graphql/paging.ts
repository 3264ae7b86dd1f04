import { badUserInput } from '../errors.js';
import { isTimeUuid } from './ids.js';

/** Lists are paged by the last clustering key (a timeuuid), which clients see only as an opaque cursor. */
export interface PageRequest {
  limit: number;
  /** The clustering key to continue after, when not the first page. */
  afterId?: string;
  /** How many items came before this page (kept in the cursor for lists with a length cap). */
  position?: number;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

const MAX_PAGE_SIZE = 100;
const CURSOR_PREFIX = 'c1:';
/** A cursor is a few dozen characters; anything much longer is refused before it is decoded. */
const MAX_CURSOR_LENGTH = 200;

export function encodeCursor(id: string, position?: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${id}${position === undefined ? '' : `:${position}`}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): { id: string; position?: number } {
  const decoded = cursor.length <= MAX_CURSOR_LENGTH ? Buffer.from(cursor, 'base64url').toString('utf8') : '';
  const [id, position, ...rest] = decoded.startsWith(CURSOR_PREFIX) ? decoded.slice(CURSOR_PREFIX.length).split(':') : [''];
  const valid =
    isTimeUuid(id) && id === id.toLowerCase() && rest.length === 0 && (position === undefined || /^\d{1,6}$/.test(position));
  if (!valid) throw badUserInput('after', 'The cursor is not valid; use a pageInfo.endCursor from an earlier page.');
  return { id, position: position === undefined ? undefined : Number(position) };
}

/** Validates connection arguments (`first` 1–100, `after` an opaque cursor). */
export function pageRequest(args: { first?: number | null; after?: string | null }): PageRequest {
  const first = args.first ?? 20;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw badUserInput('first', `first must be between 1 and ${MAX_PAGE_SIZE}.`);
  }
  if (!args.after) return { limit: first };
  const { id, position } = decodeCursor(args.after);
  return { limit: first, afterId: id, position };
}

/**
 * A Relay-style connection whose nodes are identified by a timeuuid. With `startPosition`, each cursor also records
 * the edge's position in the whole list.
 */
export function toConnection<T, N>(page: Page<T>, cursorOf: (item: T) => string, nodeOf: (item: T) => N, startPosition?: number) {
  const edges = page.items.map((item, index) => ({
    cursor: encodeCursor(cursorOf(item), startPosition === undefined ? undefined : startPosition + index + 1),
    node: nodeOf(item),
  }));
  return { edges, pageInfo: { endCursor: edges.at(-1)?.cursor ?? null, hasNextPage: page.hasNextPage } };
}
