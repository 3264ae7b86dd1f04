import { defineConfig, type GatewayPlugin } from '@graphql-hive/gateway';

import { loadConfig } from '../../platform/config.js';
import { REQUEST_ASSERTION_HEADER, signRequestAssertion } from '../../platform/identity/tokens.js';
import { SUBGRAPH_NAMES, urlVariable } from '../../platform/manifest.js';
import { viewerFromHeaders } from '../../router/src/viewer.js';

/**
 * Hive Gateway as the benchmark's peer (`npm run bench` starts it; never part of twtr). Subgraphs accept only requests
 * carrying the router's assertion, so Hive does the same work as twtr's router: it verifies the client's token once
 * per request and signs one assertion per subgraph request, for that subgraph. Subgraph URLs come from the same
 * variables as the router's.
 */
const config = loadConfig();
const subgraphOf = new Map(SUBGRAPH_NAMES.map((name) => [config[urlVariable(name)], name]));
/** The viewer of each client request, verified once per request (keyed by the request, never shared between them). */
const viewers = new WeakMap<Request, string | null>();

const assertRouterIdentity: GatewayPlugin = {
  onFetch({ url, context, options, setOptions }) {
    const subgraph = subgraphOf.get(url);
    const request = (context as { request?: Request } | undefined)?.request;
    if (!subgraph || !request) return;
    let viewerId = viewers.get(request);
    if (viewerId === undefined) {
      viewerId = viewerFromHeaders({ authorization: request.headers.get('authorization') ?? undefined }, config.JWT_SECRET);
      viewers.set(request, viewerId);
    }
    const assertion = signRequestAssertion({ viewerId, clientAddress: '127.0.0.1' }, config.INTERNAL_IDENTITY_SECRET, subgraph);
    setOptions({
      ...options,
      headers: { ...(options.headers as Record<string, string>), [REQUEST_ASSERTION_HEADER]: assertion },
    });
  },
};

export const gatewayConfig = defineConfig({
  transportEntries: Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, { location: config[urlVariable(name)] }])),
  plugins: () => [assertRouterIdentity],
  logging: 'error',
});
