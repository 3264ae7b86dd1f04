import { createSourceEventStream, type DocumentNode, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';

import { mapAsyncIterator } from '../async-iterators.js';
import { selectsFieldNamed, viewerDependentFieldNames } from '../graphql/viewer-dependent.js';

type Executed = ExecutionResult | Promise<ExecutionResult>;

/** How long one execution of an event serves later subscribers (a slow reader takes its copy later): as the router's. */
const SHARED_FOR_MS = 1_000;

/**
 * graphql-js's subscribe, except that the subscribers handed one event object, with the same operation document and
 * variables, share one execution of it: a tweet entering 10,000 live timelines is executed once per operation the
 * router sent, not 10,000 times. Only for operations selecting no field marked @viewerDependent in `typeDefs` (the
 * subgraph's own schema): those run per subscriber with its own context, as graphql-js would. A shared execution runs
 * in its first subscriber's context, which the other fields do not depend on.
 *
 * What is shared lives as long as its event, and serves for SHARED_FOR_MS: a WeakMap keyed by the event object, then by
 * the document (one per operation text, validatedDocuments), then by the variables; so it holds at most one result per
 * operation among the subscribers the event reached, and nothing once the event is gone.
 */
export function subscribeSharingEvents(typeDefs: DocumentNode) {
  const viewerDependent = viewerDependentFieldNames(typeDefs);
  const dependsOnViewer = new WeakMap<DocumentNode, boolean>();
  const executions = new WeakMap<object, WeakMap<DocumentNode, Map<string, { at: number; executed: Executed }>>>();
  const shareable = (document: DocumentNode) => {
    let answer = dependsOnViewer.get(document);
    if (answer === undefined) dependsOnViewer.set(document, (answer = selectsFieldNamed(document, viewerDependent)));
    return !answer;
  };

  return async (args: ExecutionArgs) => {
    const stream = await createSourceEventStream(args);
    if (!(Symbol.asyncIterator in stream)) return stream;
    const events = stream[Symbol.asyncIterator]();
    const run = (event: unknown) => execute({ ...args, rootValue: event });
    if (!shareable(args.document)) return mapAsyncIterator(events, run);
    const { document } = args;
    const variables = `${args.operationName ?? ''}\n${JSON.stringify(args.variableValues ?? {})}`;
    return mapAsyncIterator(events, (event: unknown) => {
      if (typeof event !== 'object' || event === null) return run(event);
      let byDocument = executions.get(event);
      if (!byDocument) executions.set(event, (byDocument = new WeakMap()));
      let byVariables = byDocument.get(document);
      if (!byVariables) byDocument.set(document, (byVariables = new Map()));
      const now = performance.now();
      let shared = byVariables.get(variables);
      if (!shared || now - shared.at >= SHARED_FOR_MS) byVariables.set(variables, (shared = { at: now, executed: run(event) }));
      return shared.executed;
    });
  };
}
