import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import type { RequestHandler } from 'express';
import {
  BREAK,
  type DocumentNode,
  getVariableValues,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
  type ValidationContext,
  visit,
} from 'graphql';
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

import { badRequest, badUserInput, ErrorCode } from '../../platform/errors.js';
import { sendGraphQLError } from '../../platform/http/responses.js';
import { MAX_MENTIONS } from '../../platform/identity/usernames.js';
import { textKeyedCache } from '../../platform/limits/text-keyed-cache.js';

/** How big an operation may be; checked after parsing and validation, before the router plans or runs it. */
export interface OperationLimits {
  /** Lexical tokens in the document, enforced by the parser itself (`parse(..., { maxTokens })`). */
  maxTokens: number;
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /**
   * Each field costs 1; a field taking `first` multiplies what it selects by `first`, and a list the subgraphs bound
   * themselves (BOUNDED_LISTS) by its bound.
   */
  maxCost: number;
}

/** Fields the cost estimate visits, fragments expanded, before it gives up on an operation. */
const MAX_EVALUATED_NODES = 10_000;

/** What lists return when `first` is not given (the subgraphs' default page). */
const DEFAULT_PAGE_SIZE = 20;

/** A field with a `first` argument returns up to `first` of what it selects. */
const pageEstimator: ComplexityEstimator = ({ field, args, childComplexity }) => {
  if (!field.args.some((arg) => arg.name === 'first')) return undefined;
  const first = typeof args.first === 'number' && args.first > 0 ? args.first : DEFAULT_PAGE_SIZE;
  return 1 + first * childComplexity;
};

/** Lists without `first` whose subgraph bounds their length: each returns at most this many of what it selects. */
const BOUNDED_LISTS: Readonly<Record<string, number>> = { 'Tweet.mentions': MAX_MENTIONS };

const boundedListEstimator: ComplexityEstimator = ({ type, field, childComplexity }) => {
  const bound = BOUNDED_LISTS[`${type.name}.${field.name}`];
  return bound === undefined ? undefined : 1 + bound * childComplexity;
};

const tooComplex = (message: string) =>
  new GraphQLError(message.replace(/^Syntax Error: /, ''), {
    extensions: { code: ErrorCode.QUERY_TOO_COMPLEX, http: { status: 400 } },
  });

/**
 * Shape limits (graphql-armor's rules) and a cost limit (graphql-query-complexity) for one operation. Run on a parsed
 * and validated document, so the work is bounded by the token limit. Returns the first limit broken, if any.
 */
export function operationLimitError(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> | undefined,
  operationName: string | undefined,
  limits: OperationLimits,
): GraphQLError | undefined {
  const report = {
    propagateOnRejection: false,
    onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(error)],
  };
  const [shapeError] = validate(
    schema,
    document,
    [
      maxDepthRule({ n: limits.maxDepth, ...report }),
      maxAliasesRule({ n: limits.maxAliases, ...report }),
      maxDirectivesRule({ n: limits.maxDirectives, ...report }),
    ],
    { maxErrors: 1 },
  );
  if (shapeError) return tooComplex(shapeError.message);

  let cost: number;
  try {
    cost = getComplexity({
      schema,
      query: document,
      variables,
      operationName,
      estimators: [pageEstimator, boundedListEstimator, simpleEstimator({ defaultComplexity: 1 })],
      maxQueryNodes: MAX_EVALUATED_NODES,
    });
  } catch (error) {
    // Fragments spread into each other can make a short document expand exponentially.
    if (error instanceof GraphQLError && error.message.includes('maximum allowed number of nodes')) {
      return tooComplex(`The operation expands to more than ${MAX_EVALUATED_NODES} fields.`);
    }
    // Variables that do not fit the operation; execution would refuse them too, but nothing unmeasured runs.
    return new GraphQLError((error as Error).message, { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } });
  }
  if (cost > limits.maxCost)
    return tooComplex(`The operation's cost is ${cost}, above the limit of ${limits.maxCost}: ask for fewer or smaller pages.`);
  return undefined;
}

/**
 * operationLimitError, remembered per operation text (its hash, as Apollo Server computes it), operation name and
 * variables: the check walks the whole document twice, and most requests repeat an operation someone sent before.
 * One cache for all texts, bounded in entries and in the characters its keys hold; only acceptances and shape or cost
 * refusals (whose messages are the router's own, a few dozen characters) are kept, never a refusal quoting a value.
 */
/** The limit check every operation passes: the error refusing it, or undefined (see rememberedOperationLimits). */
export type OperationLimitCheck = ReturnType<typeof rememberedOperationLimits>;

export function rememberedOperationLimits(limits: OperationLimits) {
  const verdicts = textKeyedCache<{ error?: GraphQLError }>({ maxEntries: 10_000, maxCharacters: 4 << 20 });
  return (
    schema: GraphQLSchema,
    document: DocumentNode,
    documentKey: string,
    variables: Record<string, unknown>,
    operationName?: string,
  ) => {
    const key = `${documentKey}\u0000${operationName ?? ''}\u0000${JSON.stringify(variables)}`;
    const known = verdicts.get(key);
    if (known) return known.error;
    const error = operationLimitError(schema, document, variables, operationName, limits);
    if (!error || error.extensions.code === ErrorCode.QUERY_TOO_COMPLEX) verdicts.set(key, { error });
    return error;
  };
}

/** How deeply variable values may nest (lists and input objects); twtr's inputs nest at most twice. */
const MAX_VARIABLE_DEPTH = 8;
/** Values (scalars, lists, objects) all variables together may hold. */
const MAX_VARIABLE_VALUES = 10_000;
/** How much of a refused value's coercion message is kept: it may quote the whole value. */
const MAX_MESSAGE_CHARACTERS = 300;

/**
 * The operation's declared variables, bounded in depth and count, then coerced to their types: what everything after
 * works with, so nothing serialises or walks the client's raw input (a megabyte of nesting overflowed the stack of
 * whatever JSON.stringify-ed it). Undeclared variables are dropped, as graphql-js ignores them.
 */
export function declaredVariables(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  raw: unknown,
): { coerced: Record<string, unknown> } | { errors: GraphQLError[] } {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw)))
    return { errors: [badRequest('`variables` must be an object.')] };
  const given = (raw ?? {}) as Record<string, unknown>;
  const inputs: Record<string, unknown> = {};
  let budget = MAX_VARIABLE_VALUES;
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    if (!Object.hasOwn(given, name)) continue;
    const counted = countValues(given[name], MAX_VARIABLE_DEPTH, budget);
    if (counted === undefined)
      return {
        errors: [badUserInput(name, `Variable "$${name}" nests deeper than ${MAX_VARIABLE_DEPTH} or holds too many values.`)],
      };
    budget -= counted;
    inputs[name] = given[name];
  }
  const { coerced, errors } = getVariableValues(schema, operation.variableDefinitions ?? [], inputs, { maxErrors: 1 });
  if (errors?.length)
    return {
      errors: errors.map(
        (error) =>
          new GraphQLError(error.message.slice(0, MAX_MESSAGE_CHARACTERS), {
            extensions: { code: ErrorCode.BAD_USER_INPUT },
          }),
      ),
    };
  return { coerced: coerced ?? {} };
}

/** The values inside `value`, or undefined once it nests deeper than `maxDepth` or holds more than `budget`. */
function countValues(value: unknown, maxDepth: number, budget: number): number | undefined {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  let count = 0;
  while (stack.length > 0) {
    const next = stack.pop()!;
    if (++count > budget) return undefined;
    if (next.value === null || typeof next.value !== 'object') continue;
    if (next.depth >= maxDepth) return undefined;
    for (const child of Object.values(next.value)) stack.push({ value: child, depth: next.depth + 1 });
  }
  return count;
}

/** How often one response name may recur in one selection set (inline fragments included). */
const MAX_SAME_RESPONSE_NAME = 8;
/** `__schema` and `__type` fields in one document (Apollo Sandbox's introspection has one). */
const MAX_INTROSPECTIONS = 2;
/** Distinct named fragments one selection set may spread. */
const MAX_FRAGMENT_SPREADS_PER_SELECTION_SET = 16;

/**
 * Refuses documents whose validation would be quadratic: graphql-js checks that fields sharing a response name can be
 * merged by comparing every pair of them (and every pair of fragments spread side by side), so 400 copies of
 * `me { id }`, 2,000 tokens, took over half a second to validate on the router's only thread, before any limit could
 * refuse it. Run on the parsed document before validation; linear in its size.
 */
export function repetitionError(document: DocumentNode): GraphQLError | undefined {
  let found: GraphQLError | undefined;
  let introspections = 0;
  visit(document, {
    // An introspection answer is computed by the router itself, tens of KiB each and exempt from the alias limit:
    // thirty aliased `__schema` in one request were 200 KB of answer and tens of milliseconds of the router's thread.
    Field(field) {
      if ((field.name.value === '__schema' || field.name.value === '__type') && ++introspections > MAX_INTROSPECTIONS)
        found = tooComplex(`An operation may introspect at most ${MAX_INTROSPECTIONS} times (__schema, __type).`);
      return found ? BREAK : undefined;
    },
    SelectionSet(selectionSet) {
      const responseNames = new Map<string, number>();
      const spreads = new Set<string>();
      const pending = [...selectionSet.selections];
      while (pending.length > 0 && !found) {
        const selection = pending.pop()!;
        if (selection.kind === Kind.INLINE_FRAGMENT) pending.push(...selection.selectionSet.selections);
        else if (selection.kind === Kind.FRAGMENT_SPREAD) {
          spreads.add(selection.name.value);
          if (spreads.size > MAX_FRAGMENT_SPREADS_PER_SELECTION_SET)
            found = tooComplex(`A selection may spread at most ${MAX_FRAGMENT_SPREADS_PER_SELECTION_SET} fragments.`);
        } else {
          const name = selection.alias?.value ?? selection.name.value;
          const count = (responseNames.get(name) ?? 0) + 1;
          responseNames.set(name, count);
          if (count > MAX_SAME_RESPONSE_NAME)
            found = tooComplex(`"${name.slice(0, 50)}" is selected more than ${MAX_SAME_RESPONSE_NAME} times in one selection.`);
        }
      }
      return found ? BREAK : undefined;
    },
  });
  return found;
}

/**
 * The HTTP side of repetitionError, before Apollo Server parses and validates: the operation text of a POST body or a
 * GET query string, parsed (within the token limit) and checked, each distinct text once. Anything it cannot read is
 * left for Apollo Server to refuse.
 */
export function refuseRepetitiveOperations(maxTokens: number): RequestHandler {
  const verdicts = textKeyedCache<{ error?: GraphQLError }>({ maxEntries: 10_000, maxCharacters: 8 << 20 });
  return (request, response, next) => {
    const query = (request.body as { query?: unknown } | undefined)?.query ?? request.query?.query;
    if (typeof query !== 'string') return next();
    let verdict = verdicts.get(query);
    if (!verdict) {
      try {
        verdict = { error: repetitionError(parse(query, { maxTokens })) };
      } catch {
        return next();
      }
      verdicts.set(query, verdict);
    }
    if (!verdict.error) return next();
    sendGraphQLError(response, 400, ErrorCode.QUERY_TOO_COMPLEX, verdict.error.message);
  };
}
