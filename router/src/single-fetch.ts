import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { FetchNode, QueryPlan } from '@apollo/query-planner';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';
import { type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, parse, print } from 'graphql';

import type { RequestScope } from '../../platform/identity/request-scope.js';
import { textKeyedCache } from '../../platform/limits/text-keyed-cache.js';
import { singleFetchAnswers } from '../../platform/observability/metrics.js';
import { declaredVariables, type OperationLimitCheck } from './operation-limits.js';
import { countOperation } from './operation-metrics.js';

/** A query the full pipeline answered whose plan is one fetch returning exactly the shape the client asked for. */
interface SingleFetch {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Apollo's hash of the query text, the key its limit verdicts are remembered under. */
  queryHash: string;
  fetch: FetchNode;
}

/** What the full pipeline gives a learnt operation, read back by the fast path. */
interface Learnt {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  queryHash: string;
  plan: QueryPlan | undefined;
}

export interface SingleFetchOptions {
  /** The data sources the gateway fetches through (assertions, metrics, in-flight sharing). */
  dataSources: Record<string, GraphQLDataSource<RequestScope>>;
  limitError: OperationLimitCheck;
  /** The request's scope, as the full pipeline builds it; throws for a token it refuses. */
  scopeOf: (request: Request, response: Response) => RequestScope & { answerBudget: { exceeded: boolean } };
}

const keyOf = (query: string, operationName: string | null | undefined) => `${operationName ?? ''}\n${query}`;

/**
 * Queries whose plan is a single fetch, answered without Apollo Server's request pipeline and the gateway's executor:
 * most of what a one-subgraph query cost the router was neither planning nor the fetch, but the machinery around them
 * (request hashing, plugin hooks, turning the document into the gateway's operation, the executor, result shaping).
 *
 * The full pipeline stays the only judge of what is valid: a query is answered here only once the full pipeline has
 * answered the same text without errors and its plan turned out to be one fetch whose selection is the client's own
 * (so the subgraph's data is the answer, as is). Each request still passes what depends on its variables and token —
 * bounded and coerced variables, the cost limit, the viewer — and anything refused or failed on the way (a subgraph
 * error included) goes to the full pipeline, which words and counts the refusal; a query is a read, so fetching it
 * again there is safe.
 */
export class SingleFetchQueries {
  /** Keyed by query text, which clients choose: bounded; null remembers a text that does not qualify. */
  private readonly known = textKeyedCache<SingleFetch | { none: true }>({
    maxEntries: 1_000,
    maxCharacters: 4 << 20,
    // The parsed document and the plan's fetch are a few times the text.
    valueSize: (entry) => ('fetch' in entry ? 4 * entry.fetch.operation.length : 0),
  });

  constructor(private readonly options: SingleFetchOptions) {}

  /** Learns from the full pipeline's successful answers which queries qualify. */
  learn(
    planOf: (queryHash: string, operationName: string | undefined) => Promise<QueryPlan | undefined>,
  ): ApolloServerPlugin<RequestScope> {
    return {
      requestDidStart: async () => ({
        willSendResponse: async ({ request, response, operation, document, schema, queryHash }) => {
          if (!request.query || !operation || !document || !queryHash || response.body.kind !== 'single') return;
          if (response.body.singleResult.errors?.length || (response.http.status ?? 200) !== 200) return;
          const key = keyOf(request.query, request.operationName);
          if (this.known.has(key)) return;
          const plan = operation.operation === 'query' ? await planOf(queryHash, request.operationName ?? undefined) : undefined;
          this.known.set(key, qualifying({ schema, document, operation, queryHash, plan }) ?? { none: true });
        },
      }),
    };
  }

  /** Answers a known single-fetch query; passes anything else on to the full pipeline. */
  readonly answer: RequestHandler = async (request, response, next) => {
    const body = request.body as
      { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown } | undefined;
    if (request.method !== 'POST' || typeof body?.query !== 'string' || !acceptsJson(request.headers.accept)) return next();
    // What Apollo checks of the rest of the body (an operation name's type, a persisted query's hash) stays its own.
    if (body.extensions !== undefined || (body.operationName != null && typeof body.operationName !== 'string')) return next();
    const operationName = body.operationName ?? undefined;
    const known = this.known.get(keyOf(body.query, operationName));
    if (!known || !('fetch' in known)) return next();
    const startedAt = process.hrtime.bigint();

    const variables = declaredVariables(known.schema, known.operation, body.variables);
    if (!('coerced' in variables)) return next();
    if (this.options.limitError(known.schema, known.document, known.queryHash, variables.coerced, operationName)) return next();
    let scope: ReturnType<SingleFetchOptions['scopeOf']>;
    try {
      scope = this.options.scopeOf(request, response);
    } catch {
      return next();
    }
    // As the gateway sends them: the variables the fetch uses, as the client gave them.
    const given = (body.variables ?? {}) as Record<string, unknown>;
    const fetchVariables = Object.fromEntries(
      (known.fetch.variableUsages ?? []).filter((name) => Object.hasOwn(given, name)).map((name) => [name, given[name]]),
    );
    const dataSource = this.options.dataSources[known.fetch.serviceName];
    let answer: Awaited<ReturnType<GraphQLDataSource['process']>>;
    try {
      answer = await dataSource.process({
        kind: 'incoming operation',
        request: { query: known.fetch.operation, variables: fetchVariables, operationName: known.fetch.operationName },
        context: scope,
        incomingRequestContext: { operation: known.operation, context: scope },
        document: known.document,
      } as unknown as GraphQLDataSourceProcessOptions<RequestScope>);
    } catch {
      return next();
    }
    if (answer.errors?.length || !answer.data || scope.answerBudget.exceeded) return next();
    countOperation(known.operation.name?.value, 'query', [], startedAt);
    singleFetchAnswers.inc();
    response
      .status(200)
      .type('application/json; charset=utf-8')
      .end(`${JSON.stringify({ data: answer.data })}\n`);
  };
}

/** The learnt operation as a single fetch, if its plan is one fetch that selects exactly what the client selected. */
function qualifying({ schema, document, operation, queryHash, plan }: Learnt): SingleFetch | undefined {
  const fetch = plan?.node;
  if (fetch?.kind !== 'Fetch' || fetch.requires || fetch.inputRewrites?.length || fetch.outputRewrites?.length) return;
  if (document.definitions.length !== 1) return;
  const fetched = parse(fetch.operation).definitions[0];
  if (fetched?.kind !== 'OperationDefinition' || fetched.operation !== 'query') return;
  // The same selection and variables, printed alike: no __typename added, no fragment rewritten, nothing to reshape.
  const same =
    print(fetched.selectionSet) === print(operation.selectionSet) &&
    (fetched.variableDefinitions ?? []).map(print).join() === (operation.variableDefinitions ?? []).map(print).join() &&
    !(operation.directives ?? []).length;
  return same ? { schema, document, operation, queryHash, fetch } : undefined;
}

/** Plain JSON is what the fast path answers; any other preference (graphql-response+json, multipart) is Apollo's. */
function acceptsJson(accept: string | undefined): boolean {
  return !accept || accept === '*/*' || accept === 'application/json';
}
