import './no-telemetry.js';

import { readFileSync } from 'node:fs';

import {
  ApolloGateway,
  type GraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
  RemoteGraphQLDataSource,
} from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { LRUCache } from 'lru-cache';

import type { Config } from '../../platform/config.js';
import { CORRELATION_HEADER, type RequestScope } from '../../platform/identity/request-scope.js';
import { REQUEST_ASSERTION_HEADER, signRequestAssertion } from '../../platform/identity/tokens.js';
import { SUBGRAPH_NAMES, type SubgraphName, SUPERGRAPH_FILE, urlVariable } from '../../platform/manifest.js';
import { secondsSince, subgraphFetchDuration, subgraphFetches } from '../../platform/observability/metrics.js';
import { currentTraceCarrier, inSpan, SpanKind } from '../../platform/observability/tracing.js';
import { assertNoTelemetry } from './no-telemetry.js';
import { SharedFetches } from './shared-fetches.js';
import { type AnswerBudget, answerBudgets, postToSubgraph } from './subgraph-http.js';

/**
 * Calls a subgraph on behalf of the client. The request is built afresh, so nothing a client sent (such as a forged
 * assertion header) reaches the subgraph; the viewer and client address travel as a short-lived assertion signed
 * with the router–subgraph secret.
 */
class ViewerDataSource extends RemoteGraphQLDataSource<RequestScope> {
  constructor(
    private readonly name: string,
    url: string,
    private readonly internalSecret: string,
    private readonly assertionTtlSeconds: number,
  ) {
    // A keep-alive node:http pool rather than fetch (subgraph-http.ts); before that, Node's fetch replaced the
    // gateway's default make-fetch-happen, which inspected a stack trace per request.
    super({
      url,
      fetcher: ((target: string, init: { headers: Record<string, string>; body: string }) =>
        postToSubgraph(target, init.headers, init.body)) as unknown as Fetcher,
    });
  }

  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<RequestScope>) {
    const headers = request.http?.headers;
    if (!headers || !context) return;
    headers.set(REQUEST_ASSERTION_HEADER, this.assertionFor(context as RequestScope));
    if (context.correlationId) headers.set(CORRELATION_HEADER, context.correlationId);
    for (const [name, value] of Object.entries(currentTraceCarrier() ?? {})) headers.set(name, value);
  }

  /**
   * An assertion of this viewer and address for this subgraph, reused while more than half its lifetime is left:
   * signing one per fetch was 3–4% of the router's CPU. Keyed by what clients control, so the cache is bounded.
   */
  private assertionFor({ viewerId, clientAddress }: RequestScope): string {
    const key = `${viewerId ?? ''}|${clientAddress ?? ''}`;
    const cached = this.assertions.get(key);
    if (cached && cached.reuseUntil > Date.now()) return cached.assertion;
    const assertion = signRequestAssertion({ viewerId, clientAddress }, this.internalSecret, this.name, this.assertionTtlSeconds);
    this.assertions.set(key, { assertion, reuseUntil: Date.now() + (this.assertionTtlSeconds * 1000) / 2 });
    return assertion;
  }

  private readonly assertions = new LRUCache<string, { assertion: string; reuseUntil: number }>({ max: 10_000 });

  /** Each fetch is counted, timed and traced (a client span the subgraph's server span continues). */
  override async process(options: GraphQLDataSourceProcessOptions<RequestScope>) {
    const startedAt = process.hrtime.bigint();
    let outcome = 'failed';
    try {
      const response = await inSpan(
        `fetch ${this.name}`,
        { kind: SpanKind.CLIENT, attributes: { 'twtr.subgraph': this.name } },
        () => answerBudgets.run((options.context as { answerBudget?: AnswerBudget }).answerBudget, () => super.process(options)),
      );
      outcome = response.errors?.length ? 'graphql_error' : 'ok';
      return response;
    } finally {
      subgraphFetches.inc({ subgraph: this.name, outcome });
      subgraphFetchDuration.observe({ subgraph: this.name }, secondsSince(startedAt));
    }
  }
}

export function subgraphUrls(config: Config): Record<SubgraphName, string> {
  return Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, config[urlVariable(name)]])) as Record<SubgraphName, string>;
}

export const readSupergraphSdl = () => readFileSync(SUPERGRAPH_FILE, 'utf8');

/** One data source per subgraph, shared by the gateway (queries, mutations) and subscriptions. */
export function createDataSources(config: Config): Record<SubgraphName, ViewerDataSource> {
  const urls = subgraphUrls(config);
  return Object.fromEntries(
    Object.entries(urls).map(([name, url]) => [
      name,
      new ViewerDataSource(name, url, config.INTERNAL_IDENTITY_SECRET, config.ROUTER_ASSERTION_TTL_SECONDS),
    ]),
  ) as Record<SubgraphName, ViewerDataSource>;
}

/**
 * The data sources queries and mutations fetch through: identical fetches in flight at once are made once (queries
 * only; see SharedFetches).
 */
export function sharingInFlight(
  dataSources: Record<string, ViewerDataSource>,
  supergraphSdl: string,
): Record<string, GraphQLDataSource<RequestScope>> {
  const inFlight = new SharedFetches(supergraphSdl, { inFlightOnly: true });
  return Object.fromEntries(Object.entries(dataSources).map(([name, dataSource]) => [name, inFlight.wrap(name, dataSource)]));
}

/** The gateway over the committed supergraph (schema/supergraph.graphql), fetching through `dataSources`. */
export function createGateway(
  dataSources: Record<string, GraphQLDataSource<RequestScope>>,
  supergraphSdl = readSupergraphSdl(),
): ApolloGateway {
  assertNoTelemetry();
  return new ApolloGateway({
    supergraphSdl,
    buildService: ({ name }) => {
      const dataSource = dataSources[name];
      if (!dataSource) throw new Error(`the supergraph names a subgraph "${name}" that the router has no URL for`);
      return dataSource;
    },
  });
}
