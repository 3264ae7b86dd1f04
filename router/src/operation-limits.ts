import { maxAliasesRule } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesRule } from '@escape.tech/graphql-armor-max-directives';
import { type DocumentNode, GraphQLError, type GraphQLSchema, validate, type ValidationContext } from 'graphql';
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { type LRUCache } from 'lru-cache';

import { ErrorCode } from '../../platform/errors.js';
import { textKeyedCache } from '../../platform/limits/text-keyed-cache.js';

/** How big an operation may be; checked after parsing and validation, before the router plans or runs it. */
export interface OperationLimits {
  /** Lexical tokens in the document, enforced by the parser itself (`parse(..., { maxTokens })`). */
  maxTokens: number;
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Each field costs 1; a field taking `first` multiplies what it selects by `first`. */
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
      estimators: [pageEstimator, simpleEstimator({ defaultComplexity: 1 })],
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

/** Verdicts remembered per document for different operation names and variables. */
const VERDICTS_PER_DOCUMENT = 64;

/**
 * operationLimitError, remembered per parsed document (Apollo Server hands the same DocumentNode to every request with
 * the same text, from its bounded document store) and per operation name and variables. The check walked the whole
 * document twice per request; most requests repeat an operation someone sent before.
 */
export function rememberedOperationLimits(limits: OperationLimits) {
  const verdicts = new WeakMap<DocumentNode, LRUCache<string, { error?: GraphQLError }>>();
  return (
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Record<string, unknown> | undefined,
    operationName?: string,
  ) => {
    let byRequest = verdicts.get(document);
    if (!byRequest)
      verdicts.set(document, (byRequest = textKeyedCache({ maxEntries: VERDICTS_PER_DOCUMENT, maxCharacters: 256 << 10 })));
    const key = requestKey(operationName, variables);
    // Variables too deeply nested to serialise are not remembered; operationLimitError still judges them.
    if (key === undefined) return operationLimitError(schema, document, variables, operationName, limits);
    let verdict = byRequest.get(key);
    if (!verdict)
      byRequest.set(key, (verdict = { error: operationLimitError(schema, document, variables, operationName, limits) }));
    return verdict.error;
  };
}

function requestKey(operationName: string | undefined, variables: Record<string, unknown> | undefined): string | undefined {
  try {
    return `${operationName ?? ''}\u0000${JSON.stringify(variables ?? {})}`;
  } catch {
    return undefined;
  }
}
