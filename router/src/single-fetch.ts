import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { FetchNode, QueryPlan } from '@apollo/query-planner';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Request, RequestHandler, Response } from 'express';
import { type DocumentNode, type GraphQLSchema, type OperationDefinitionNode, parse, print } from 'graphql';

import { documentSize } from '../../platform/http/document-store.js';
import { sendJson } from '../../platform/http/responses.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import { textKeyedCache } from '../../platform/limits/text-keyed-cache.js';
import { singleFetchAnswers } from '../../platform/observability/metrics.js';
import { declaredVariables, type OperationLimitCheck } from './operation-limits.js';
import { countOperation } from './operation-metrics.js';
import type { AnswerBudget } from './subgraph-http.js';

/** A query the full pipeline answered whose plan is one fetch returning exactly the shape the client asked for. */
interface SingleFetch {
  schema: GraphQLSchema;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Apollo's hash of the query text, the key its limit verdicts are remembered under. */
  queryHash: string;
  fetch: FetchNode;
  /** What the entry keeps alive, in characters. */
  size: number;
}

/** What the full pipeline gives a learnt operation: what a SingleFetch keeps, and the plan its fetch comes from. */
type Learnt = Omit<SingleFetch, 'fetch' | 'size'> & { plan: QueryPlan | undefined };

export interface SingleFetchOptions {
  /** The data sources the gateway fetches through (assertions, metrics, in-flight sharing). */
  dataSources: Record<string, GraphQLDataSource<RequestScope>>;
  limitError: OperationLimitCheck;
  /** The request's scope, as the full pipeline builds it; throws for a token it refuses. */
  scopeOf: (request: Request, response: Response) => RequestScope & { answerBudget: AnswerBudget };
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
 * error included) goes to the full pipeline, which words and counts the refusal, from the answer already fetched when
 * there is one (reusingPrefetched): the subgraph is never asked twice for one request.
 */
export class SingleFetchQueries {
  /** Keyed by query text, which clients choose: bounded, each entry weighed with the parsed document it keeps. */
  private readonly known = textKeyedCache<SingleFetch>({
    maxEntries: 1_000,
    maxCharacters: 16 << 20,
    valueSize: (entry) => entry.size,
  });
  /** Queries that do not qualify, apart, so that many of them cannot push the learnt ones out. */
  private readonly notSingle = textKeyedCache<true>({ maxEntries: 1_000, maxCharacters: 4 << 20 });

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
          if (operation.operation !== 'query') return;
          const key = keyOf(request.query, request.operationName);
          if (this.known.has(key) || this.notSingle.has(key)) return;
          const single = qualifying({
            schema,
            document,
            operation,
            queryHash,
            plan: await planOf(queryHash, request.operationName ?? undefined),
          });
          if (single) this.known.set(key, single);
          else this.notSingle.set(key, true);
        },
      }),
    };
  }

  /** Answers a known single-fetch query; passes anything else on to the full pipeline. */
  readonly answer: RequestHandler = async (request, response, next) => {
    const body = request.body as
      { query?: unknown; operationName?: unknown; variables?: unknown; extensions?: unknown } | undefined;
    if (request.method !== 'POST' || typeof body?.query !== 'string' || !acceptsJson(request.headers.accept)) return next();
    // What Apollo checks of the rest of the body (an operation name's type, a persisted query's hash) and the gateway's
    // debugging header stay theirs.
    if (body.extensions !== undefined || request.headers['apollo-query-plan-experimental'] !== undefined) return next();
    if (body.operationName != null && typeof body.operationName !== 'string') return next();
    const operationName = body.operationName ?? undefined;
    const known = this.known.get(keyOf(body.query, operationName));
    // The name must be the operation's own: "" (or one holding the key's separator) would find the entry, yet the cost
    // limit skips an operation of another name, and the full pipeline refuses it.
    if (!known || (operationName !== undefined && operationName !== known.operation.name?.value)) return next();
    const receivedAt = process.hrtime.bigint();

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
      (known.fetch.variableUsages ?? []).filter((name) => given[name] !== undefined).map((name) => [name, given[name]]),
    );
    const { serviceName, operation: query, operationName: fetchName } = known.fetch;
    const answer = this.options.dataSources[serviceName].process({
      kind: 'incoming operation',
      request: { query, variables: fetchVariables, operationName: fetchName },
      context: scope,
      incomingRequestContext: { operation: known.operation, context: scope },
      document: known.document,
    } as unknown as GraphQLDataSourceProcessOptions<RequestScope>);
    const answered = await answer.catch(() => undefined);
    if (!answered || answered.errors?.length || !answered.data || scope.answerBudget.exceeded) {
      // The full pipeline words the refusal or the errors from this very answer: the subgraph is not asked twice.
      const prefetched: Prefetched = {
        serviceName,
        query,
        variables: JSON.stringify(fetchVariables),
        answer,
        answerBudget: scope.answerBudget,
        receivedAt,
      };
      response.locals[PREFETCHED] = prefetched;
      return next();
    }
    countOperation(known.operation.name?.value, 'query', [], receivedAt);
    singleFetchAnswers.inc();
    // As Apollo's cache-control plugin marks an answer with no cache hints.
    sendJson(response, 200, `${JSON.stringify({ data: answered.data })}\n`, { 'cache-control': 'no-store' });
  };
}

/** A fetch the fast path made for a request it then left to the full pipeline, handed to the gateway's fetch of it. */
export interface Prefetched {
  serviceName: string;
  query: string;
  /** The fetch's variables as JSON, as the gateway will send them. */
  variables: string;
  answer: Promise<Awaited<ReturnType<GraphQLDataSource['process']>>>;
  /** The request's budget, already charged with that answer. */
  answerBudget: AnswerBudget;
  /** When the request arrived, for its duration. */
  receivedAt: bigint;
  taken?: boolean;
}

const PREFETCHED = 'twtrPrefetched';

/** The fetch the fast path made for this request, if it made one and left the request to the full pipeline. */
export const prefetchedOf = (response: Response): Prefetched | undefined => response.locals[PREFETCHED] as Prefetched | undefined;

/** A data source that answers a request's prefetched fetch (once) with what the fast path got, and asks otherwise. */
export function reusingPrefetched(
  serviceName: string,
  dataSource: GraphQLDataSource<RequestScope>,
): GraphQLDataSource<RequestScope> {
  return {
    process: (options) => {
      const prefetched = (options.context as { prefetched?: Prefetched } | undefined)?.prefetched;
      if (
        prefetched &&
        !prefetched.taken &&
        prefetched.serviceName === serviceName &&
        prefetched.query === options.request.query &&
        prefetched.variables === JSON.stringify(options.request.variables ?? {})
      ) {
        prefetched.taken = true;
        return prefetched.answer;
      }
      return dataSource.process(options);
    },
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
  return same
    ? { schema, document, operation, queryHash, fetch, size: documentSize(document) + 4 * fetch.operation.length }
    : undefined;
}

/** Plain JSON is what the fast path answers; any other preference (graphql-response+json, multipart) is Apollo's. */
function acceptsJson(accept: string | undefined): boolean {
  return !accept || accept === '*/*' || accept === 'application/json';
}
