import { readFileSync, writeFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { parse } from 'graphql';

/** The subgraphs of the supergraph, by name; each serves subgraphs/<name>/schema.graphql. */
export const SUBGRAPH_NAMES = ['users', 'tweets', 'follows', 'feed'] as const;
export type SubgraphName = (typeof SUBGRAPH_NAMES)[number];

export const SUPERGRAPH_FILE = new URL('./supergraph.graphql', import.meta.url);
const ROOT = new URL('../', import.meta.url);

/**
 * Composition hints we have read and accepted, by code. Anything else fails the schema test.
 * (None so far: keep it that way unless a hint is understood and harmless.)
 */
export const ACCEPTED_HINT_CODES: ReadonlySet<string> = new Set();

export function subgraphSdl(name: SubgraphName): string {
  return readFileSync(new URL(`subgraphs/${name}/schema.graphql`, ROOT), 'utf8');
}

/** The router learns real subgraph URLs from its config; these are only the local defaults. */
const DEFAULT_PORTS: Record<SubgraphName, number> = { users: 4001, tweets: 4002, follows: 4003, feed: 4004 };

export function composeSupergraph() {
  const result = composeServices(
    SUBGRAPH_NAMES.map((name) => ({
      name,
      typeDefs: parse(subgraphSdl(name)),
      url: `http://127.0.0.1:${DEFAULT_PORTS[name]}/graphql`,
    })),
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
