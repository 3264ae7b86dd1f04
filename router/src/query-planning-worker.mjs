// The query planner on a thread of its own (see query-planning.ts). Plain JavaScript, so the same file runs under
// tsx, vitest and the compiled image without a TypeScript loader in the worker.
import { parentPort, workerData } from 'node:worker_threads';

import { operationFromDocument, Supergraph } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import { parse } from 'graphql';

const supergraph = Supergraph.build(workerData.supergraphSdl);
const apiSchema = supergraph.apiSchema();
const planner = new QueryPlanner(supergraph);

parentPort.on('message', ({ id, query, operationName }) => {
  try {
    const operation = operationFromDocument(apiSchema, parse(query), { operationName });
    parentPort.postMessage({ id, plan: planner.buildQueryPlan(operation) });
  } catch (error) {
    parentPort.postMessage({ id, failure: String(error instanceof Error ? error.message : error).slice(0, 300) });
  }
});
// Ready once warm: a cold planner takes a hundred times longer over its first operations, and a thread that takes over
// after a refusal must not refuse ordinary operations for that.
for (const query of workerData.warmUp ?? []) {
  try {
    planner.buildQueryPlan(operationFromDocument(apiSchema, parse(query)));
  } catch {
    // A warm-up operation the schema no longer has only warms less.
  }
}
parentPort.postMessage({ ready: true });
