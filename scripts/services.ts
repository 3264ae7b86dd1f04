import { entryOf, portVariable, ROUTER_ENTRY, SUBGRAPH_NAMES, urlVariable } from '../platform/manifest.js';

/** The processes `npm start` runs (from the manifest), subgraphs before the router that calls them. */
export const SERVICES = [
  ...SUBGRAPH_NAMES.map((name) => ({
    name,
    entry: entryOf(name),
    portVariable: portVariable(name),
    urlVariable: urlVariable(name) as string | undefined,
  })),
  { name: 'router', entry: ROUTER_ENTRY, portVariable: 'ROUTER_PORT', urlVariable: undefined },
];
