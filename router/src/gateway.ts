import './no-telemetry.js';

import { readFileSync } from 'node:fs';

import {
  ApolloGateway,
  type GraphQLDataSource,
  type GraphQLDataSourceProcessOptions,
  RemoteGraphQLDataSource,
} from '@apollo/gateway';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';

import type { Config } from '../../platform/config.js';
import { CORRELATION_HEADER, type RequestScope } from '../../platform/identity/request-scope.js';
import { REQUEST_ASSERTION_HEADER, signRequestAssertion } from '../../platform/identity/tokens.js';
import { textKeyedCache } from '../../platform/limits/text-keyed-cache.js';
import { SUBGRAPH_NAMES, type SubgraphName, SUPERGRAPH_FILE, urlVariable } from '../../platform/manifest.js';
import { secondsSince, subgraphFetchDuration, subgraphFetches } from '../../platform/observability/metrics.js';
import { currentTraceCarrier, inSpan, SpanKind } from '../../platform/observability/tracing.js';
import { assertNoTelemetry } from './no-telemetry.js';
import { SharedFetches } from './shared-fetches.js';
import { type AnswerBudget, postToSubgraph } from './subgraph-http.js';

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
    super({ url });
  }

  /**
   * An assertion of this viewer and address for this subgraph, reused while more than half its lifetime is left:
   * signing one per fetch was 3–4% of the router's CPU. Keyed by what clients control (an X-Forwarded-For entry
   * behind a proxy may be kilobytes), so the cache is bounded in characters, the assertions' own (which quote their
   * address) counted beside their keys'.
   */
  private assertionFor({ viewerId, clientAddress }: RequestScope): string {
    const key = `${viewerId ?? ''}|${clientAddress ?? ''}`;
    const cached = this.assertions.get(key);
    if (cached && cached.reuseUntil > Date.now()) return cached.assertion;
    const assertion = signRequestAssertion({ viewerId, clientAddress }, this.internalSecret, this.name, this.assertionTtlSeconds);
    this.assertions.set(key, { assertion, reuseUntil: Date.now() + (this.assertionTtlSeconds * 1000) / 2 });
    return assertion;
  }

  private readonly assertions = textKeyedCache<{ assertion: string; reuseUntil: number }>({
    maxEntries: 10_000,
    maxCharacters: 8 << 20,
    valueSize: ({ assertion }) => assertion.length,
  });

  /** Each fetch is counted, timed and traced (a client span the subgraph's server span continues). */
  override async process(options: GraphQLDataSourceProcessOptions<RequestScope>) {
    const startedAt = process.hrtime.bigint();
    let outcome = 'failed';
    try {
      const response = await inSpan(
        `fetch ${this.name}`,
        { kind: SpanKind.CLIENT, attributes: { 'twtr.subgraph': this.name } },
        () => this.post(options),
      );
      outcome = response.errors?.length ? 'graphql_error' : 'ok';
      return response;
    } finally {
      subgraphFetches.inc({ subgraph: this.name, outcome });
      subgraphFetchDuration.observe({ subgraph: this.name }, secondsSince(startedAt));
    }
  }

  /**
   * What the gateway's own process does for a JSON POST, without the node-fetch Headers, Request and URL parsing it
   * builds around the fetcher (6–8% of the router's CPU on one-subgraph queries): the request built afresh (the
   * assertion, correlation id and trace context as headers), sent through the keep-alive pool (subgraph-http.ts), the
   * answer parsed, and the subgraph's cache-control folded into the operation's cache policy as the gateway folds it.
   */
  private async post(options: GraphQLDataSourceProcessOptions<RequestScope>): Promise<GatewayGraphQLResponse> {
    const { request, context } = options;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (context) {
      headers[REQUEST_ASSERTION_HEADER] = this.assertionFor(context as RequestScope);
      if (context.correlationId) headers[CORRELATION_HEADER] = context.correlationId;
      Object.assign(headers, currentTraceCarrier());
    }
    if (!request.query) throw new Error('Missing query');
    const { http: _http, ...body } = request;
    const budget = (context as { answerBudget?: AnswerBudget } | undefined)?.answerBudget;
    const response = await postToSubgraph(this.url, headers, JSON.stringify(body), budget);
    if (!response.ok) throw await this.errorFromResponse(response as never);
    const parsed = await this.parseBody(response as never);
    if (typeof parsed !== 'object' || parsed === null) throw new Error(`Expected JSON response body, but received: ${parsed}`);
    const policy = 'incomingRequestContext' in options ? options.incomingRequestContext.overallCachePolicy : undefined;
    if (policy && 'restrict' in policy) policy.restrict(cacheHintOf(response.headers.get('cache-control')));
    return { ...(parsed as GatewayGraphQLResponse), http: response as never };
  }
}

/** A subgraph's cache-control header as the gateway reads it: max-age (0 without one), and private or public. */
function cacheHintOf(header: string | null): { maxAge: number; scope?: 'PRIVATE' | 'PUBLIC' } {
  const directives = new Map(
    (header?.trim() ? header.trim().split(/\s*,\s*/) : []).map((part) => {
      const [name, value] = part.split(/\s*=\s*/, 2);
      return [name, value === undefined ? true : value.replace(/^"|"$/g, '')] as const;
    }),
  );
  const maxAge = directives.get('max-age');
  return {
    maxAge: typeof maxAge === 'string' && /^[0-9]+$/.test(maxAge) ? Number(maxAge) : 0,
    ...(directives.get('private') === true ? { scope: 'PRIVATE' as const } : {}),
    ...(directives.get('public') === true ? { scope: 'PUBLIC' as const } : {}),
  };
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
