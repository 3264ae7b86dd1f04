import { readFileSync, writeFileSync } from 'node:fs';

import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

import { type SubgraphName, SUBGRAPHS, SUPERGRAPH_FILE } from '../platform/manifest.js';

const ROOT = new URL('../', import.meta.url);

/**
 * Composition hints we have read and accepted, by code. Anything else fails the schema test.
 * (None so far: keep it that way unless a hint is understood and harmless.)
 */
export const ACCEPTED_HINT_CODES: ReadonlySet<string> = new Set();

export function subgraphSdl(name: SubgraphName): string {
  return readFileSync(new URL(`subgraphs/${name}/schema.graphql`, ROOT), 'utf8');
}

/** Composes every subgraph in the manifest; the URLs are local defaults (the router takes real ones from config). */
export function composeSupergraph() {
  const result = composeServices(
    SUBGRAPHS.map(({ name, port }) => ({ name, typeDefs: parse(subgraphSdl(name)), url: `http://127.0.0.1:${port}/graphql` })),
  );
  if (result.errors) {
    throw new Error(`composition failed:\n${result.errors.map((error) => `  ${error.message}`).join('\n')}`);
  }
  return { supergraphSdl: result.supergraphSdl, hints: result.hints };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { supergraphSdl, hints } = composeSupergraph();
  for (const hint of hints) console.warn(`hint ${hint.definition.code}: ${hint.message}`);
  writeFileSync(SUPERGRAPH_FILE, supergraphSdl);
  console.log(`wrote ${SUPERGRAPH_FILE.pathname}`);
}
