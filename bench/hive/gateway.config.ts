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
 *
 * The assertion goes into the subgraph request's `extensions.headers` (which the HTTP executor turns into headers), not
 * into the fetch by an onFetch hook: Hive shares an in-flight subgraph request between client requests whose URL, body
 * and those headers match, so a header added at fetch time would let one viewer's `feed` answer go to every viewer
 * asking at the same moment (the benchmark's warm-up caught exactly that).
 */
const config = loadConfig();
/** The viewer of each client request, verified once per request (keyed by the request, never shared between them). */
const viewers = new WeakMap<Request, string | null>();

function viewerOf(request: Request): string | null {
  let viewerId = viewers.get(request);
  if (viewerId === undefined) {
    viewerId = viewerFromHeaders({ authorization: request.headers.get('authorization') ?? undefined }, config.JWT_SECRET);
    viewers.set(request, viewerId);
  }
  return viewerId;
}

const assertRouterIdentity: GatewayPlugin = {
  onSubgraphExecute({ subgraphName, executionRequest, setExecutionRequest }) {
    const request = (executionRequest.context as { request?: Request } | undefined)?.request;
    const viewerId = request ? viewerOf(request) : null;
    const assertion = signRequestAssertion(
      { viewerId, clientAddress: '127.0.0.1' },
      config.INTERNAL_IDENTITY_SECRET,
      subgraphName,
    );
    const extensions = executionRequest.extensions ?? {};
    setExecutionRequest({
      ...executionRequest,
      extensions: { ...extensions, headers: { ...extensions.headers, [REQUEST_ASSERTION_HEADER]: assertion } },
    });
  },
};

export const gatewayConfig = defineConfig({
  transportEntries: Object.fromEntries(SUBGRAPH_NAMES.map((name) => [name, { location: config[urlVariable(name)] }])),
  plugins: () => [assertRouterIdentity],
  logging: 'error',
});
