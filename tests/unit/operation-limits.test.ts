import { readFileSync } from 'node:fs';

import { Supergraph } from '@apollo/federation-internals';
import { getIntrospectionQuery, parse } from 'graphql';
import { describe, expect, it } from 'vitest';

import { loadConfig } from '../../platform/config.js';
import {
  operationLimitError,
  type OperationLimits,
  rememberedOperationLimits,
  repetitionError,
} from '../../router/src/operation-limits.js';
import { operationLimitsOf } from '../../router/src/server.js';

const apiSchema = Supergraph.build(readFileSync(new URL('../../schema/supergraph.graphql', import.meta.url), 'utf8'))
  .apiSchema()
  .toGraphQLJSSchema();
const defaults = operationLimitsOf(loadConfig({}));
/** Half of every default: what people do must fit with room to spare. */
const halved: OperationLimits = Object.fromEntries(
  Object.entries(defaults).map(([name, limit]) => [name, Math.floor(limit / 2)]),
) as never;

const errorOf = (query: string, variables: Record<string, unknown> = {}, limits = defaults) =>
  operationLimitError(apiSchema, parse(query, { maxTokens: limits.maxTokens }), variables, undefined, limits);

/** Every operation in README's example session (the JSON bodies of its curl calls). */
const readmeOperations = [
  ...readFileSync(new URL('../../README.md', import.meta.url), 'utf8').matchAll(/'(\{"query":.*\})'/g),
].map(([, body]) => (JSON.parse(body) as { query: string }).query);

/** The largest operations the tests, the benchmarks and Apollo Sandbox send. */
const largestInUse = [
  `{ feed(first: 100) { edges { cursor node { id text createdAt author { id username displayName viewerIsFollowing } } } pageInfo { endCursor hasNextPage } } }`,
  `query ($username: String!) { user(username: $username) { id username displayName followerCount followingCount viewerIsFollowing
     tweets(first: 20) { edges { cursor node { id text createdAt author { username displayName } } } pageInfo { endCursor hasNextPage } }
     followers(first: 20) { edges { node { username displayName followerCount } } } } }`,
  `subscription { feedItemAdded { id text createdAt author { username displayName followerCount } } }`,
  getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
  }),
];

describe('operation limits', () => {
  it('finds the README operations', () => {
    expect(readmeOperations.length).toBeGreaterThanOrEqual(6);
  });

  it.each([...readmeOperations, ...largestInUse].map((query) => [query.slice(0, 60).replace(/\s+/g, ' '), query]))(
    'let %s through with half the default limits',
    (_name, query) => {
      expect(errorOf(query, { username: 'alice' }, halved)).toBeUndefined();
      expect(repetitionError(parse(query))).toBeUndefined();
    },
  );

  it.each([
    ['one field 9 times', `{ ${'me { id } '.repeat(9)} }`],
    ['one alias 9 times through inline fragments', `{ me { ${'... on User { x: id } '.repeat(9)} } }`],
    [
      '17 fragments side by side',
      `{ me { ${Array.from({ length: 17 }, (_, i) => `...F${i}`).join(' ')} } } ${Array.from({ length: 17 }, (_, i) => `fragment F${i} on User { id }`).join(' ')}`,
    ],
    [
      'three introspections',
      `{ a: __schema { queryType { name } } b: __schema { queryType { name } } c: __type(name: "User") { name } }`,
    ],
  ])('refuse %s before validation, which compares every pair', (_name, query) => {
    expect(repetitionError(parse(query))?.extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('multiply what a page selects by its `first`, from literals and variables', () => {
    const nested = `query ($n: Int) { me { followers(first: $n) { edges { node { following(first: $n) { edges { node { id } } } } } } } }`;
    expect(errorOf(nested, { n: 10 })).toBeUndefined();
    expect(errorOf(nested, { n: 100 })?.extensions.code).toBe('QUERY_TOO_COMPLEX');
    // Without `first`, a page is the default 20.
    expect(errorOf(nested.replaceAll('(first: $n)', ''), {})).toBeUndefined();
  });

  it('multiply what a bounded list without `first` selects by its bound (a tweet mentions at most 10 users)', () => {
    const nested = `query ($n: Int) { tweet(id: "t") { mentions { tweets(first: $n) { edges { node {
      mentions { tweets(first: $n) { edges { node { id } } } } } } } } } }`;
    // About 10 × 2 × 10 × 2 × 3 fits; 10 × 5 × 10 × 5 × 3 is over the default 5,000 (counted as 1 each, about 100).
    expect(errorOf(nested, { n: 2 })).toBeUndefined();
    expect(errorOf(nested, { n: 5 })?.extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('stop counting a fragment bomb early', () => {
    const levels = 40;
    const bomb = `{ me { ...F${levels} } } fragment F0 on User { id } ${Array.from(
      { length: levels },
      (_, i) =>
        `fragment F${i + 1} on User { followers(first: 1) { edges { node { ...F${i} } } } following(first: 1) { edges { node { ...F${i} } } } }`,
    ).join(' ')}`;
    expect(errorOf(bomb, {}, { ...defaults, maxDepth: 1_000 })?.extensions.code).toBe('QUERY_TOO_COMPLEX');
  });

  it('are remembered per operation and variables, but never a refusal that quotes what the client sent', () => {
    const check = rememberedOperationLimits(defaults);
    const pages = `query ($n: Int) { me { followers(first: $n) { edges { node { following(first: $n) { edges { node { id } } } } } } } }`;
    const document = parse(pages);
    const tooCostly = check(apiSchema, document, 'pages', { n: 100 });
    expect(tooCostly?.extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect(check(apiSchema, document, 'pages', { n: 100 })).toBe(tooCostly);
    // Its message quotes the value whole: remembered, it would hold text of the client's beside its key.
    const padded = { n: 'x'.repeat(10_000) };
    const quoting = check(apiSchema, document, 'pages', padded);
    expect(quoting?.extensions.code).toBe('BAD_USER_INPUT');
    expect(quoting!.message).toContain(padded.n);
    expect(check(apiSchema, document, 'pages', padded)).not.toBe(quoting);
  });

  it('refuse variables that do not fit, rather than skip the count', () => {
    expect(errorOf(`query ($n: Int) { feed(first: $n) { edges { cursor } } }`, { n: 'many' })?.extensions.code).toBe(
      'BAD_USER_INPUT',
    );
  });
});
