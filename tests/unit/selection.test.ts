import { buildSchema, executeSync, type GraphQLResolveInfo, parse } from 'graphql';
import { describe, expect, it } from 'vitest';

import { selectedFieldNames } from '../../platform/graphql/selection.js';

const schema = buildSchema(`
  type Query { feed: Connection }
  type Connection { edges: [Edge!]! pageInfo: PageInfo! }
  type Edge { cursor: String node: Tweet }
  type PageInfo { hasNextPage: Boolean }
  type Tweet { id: ID likeCount: Int viewerHasLiked: Boolean text: String }
`);

/** The names selected at `path` under `feed`, as its resolver sees them. */
function selectedUnderFeed(query: string, path: string[]): string[] {
  let seen: Set<string> | undefined;
  executeSync({
    schema,
    document: parse(query),
    rootValue: {
      feed: (_args: unknown, _context: unknown, info: GraphQLResolveInfo) => {
        seen = selectedFieldNames(info, path);
        return null;
      },
    },
  });
  return [...seen!].sort();
}

describe('selectedFieldNames', () => {
  it('names the fields asked at a path, through aliases, inline fragments and fragments spread in fragments', () => {
    const query = `
      query { feed { edges { cursor node { id n: likeCount ... on Tweet { text } ...Liked } } pageInfo { hasNextPage } } }
      fragment Liked on Tweet { ...Deeper }
      fragment Deeper on Tweet { viewerHasLiked }`;
    expect(selectedUnderFeed(query, ['edges', 'node'])).toEqual(['id', 'likeCount', 'text', 'viewerHasLiked']);
    expect(selectedUnderFeed(query, ['edges'])).toEqual(['cursor', 'node']);
    expect(selectedUnderFeed(query, [])).toEqual(['edges', 'pageInfo']);
  });

  it('merges the selections of a field asked twice, and finds nothing where nothing is asked', () => {
    const query = `query { feed { edges { node { id } } edges { node { likeCount } } ...Paged } }
      fragment Paged on Connection { edges { node { text } } }`;
    expect(selectedUnderFeed(query, ['edges', 'node'])).toEqual(['id', 'likeCount', 'text']);
    expect(selectedUnderFeed(`query { feed { pageInfo { hasNextPage } } }`, ['edges', 'node'])).toEqual([]);
  });

  it('counts a field left out by @skip or @include, and a fragment spread twice', () => {
    const query = `query { feed { edges { node { id @skip(if: true) text @include(if: false) ...T ...T } } } }
      fragment T on Tweet { likeCount }`;
    expect(selectedUnderFeed(query, ['edges', 'node'])).toEqual(['id', 'likeCount', 'text']);
  });
});
