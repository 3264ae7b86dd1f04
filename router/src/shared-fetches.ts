import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { parse } from 'graphql';

import { ErrorCode } from '../../platform/errors.js';
import { selectsFieldNamed, viewerDependentFieldNames } from '../../platform/graphql/viewer-dependent.js';
import type { RequestScope } from '../../platform/identity/request-scope.js';
import { type TextKeyedAnswers, textKeyedAnswers, textKeyedCache } from '../../platform/limits/text-keyed-cache.js';
import { type AnswerBudget, answerBytes, answerTooLarge, charge } from './subgraph-http.js';

type Response = Awaited<ReturnType<GraphQLDataSource['process']>>;

export interface SharedFetchesOptions {
  /** How long an answer is reused for identical fetches; 0 never shares. Defaults to 1 s. */
  ttlMs?: number;
  /**
   * For queries over HTTP: share an answer only while it is in flight (never a stale one), and only fetches whose
   * answer cannot depend on who asks: every fetch of an anonymous query, and entity fetches without a @viewerDependent
   * field. Mutations are never shared.
   */
  inFlightOnly?: boolean;
}

/**
 * Shares the entity fetches of a subscription event between subscribers. When one tweet reaches a thousand
 * subscribers, each of their events needs the same `_entities` fetches (the tweet's text, its author): fetches that
 * select no field marked @viewerDependent in the supergraph are made once, anonymously, and their answer is given to
 * every subscriber asking the same thing within `ttlMs`. Fetches that do select such a field go out per viewer.
 */
export class SharedFetches {
  private readonly viewerDependentFields: ReadonlySet<string>;
  /**
   * Both keyed by fetch text, which follows from what clients subscribe with, so both are bounded: an entry evicted
   * early only costs a re-parse or an unshared fetch. An answer is as big as what the client selected, so answers are
   * weighed too, by their bodies as read.
   */
  private readonly dependsOnViewer = textKeyedCache<boolean>({ maxEntries: 1_000, maxCharacters: 4 << 20 });
  private readonly answers: TextKeyedAnswers<Response>;
  private readonly ttlMs: number;
  private readonly inFlightOnly: boolean;

  constructor(supergraphSdl: string, options: SharedFetchesOptions = {}) {
    this.viewerDependentFields = viewerDependentFieldNames(parse(supergraphSdl));
    this.ttlMs = options.ttlMs ?? 1_000;
    this.inFlightOnly = options.inFlightOnly ?? false;
    this.answers = textKeyedAnswers({
      maxEntries: 10_000,
      maxCharacters: 16 << 20,
      ttlMs: Math.max(this.ttlMs, 1),
      valueSize: answerBytes,
    });
  }

  wrap(serviceName: string, dataSource: GraphQLDataSource<RequestScope>): GraphQLDataSource<RequestScope> {
    return {
      process: (options: GraphQLDataSourceProcessOptions<RequestScope>) => {
        const query = options.request.query ?? '';
        if (!this.mayShare(options, query)) return dataSource.process(options);
        const key = `${serviceName}\n${query}\n${JSON.stringify(options.request.variables ?? {})}`;
        let answer = this.answers.get(key);
        const joined = answer !== undefined;
        if (!answer) {
          // Anonymous, but charged to the first asker's answer budget, if it has one (subgraph-http.ts).
          const anonymous = { ...options.context, viewerId: null, clientAddress: null } as RequestScope;
          const response = dataSource.process({
            ...options,
            context: anonymous,
          } as GraphQLDataSourceProcessOptions<RequestScope>);
          answer = response;
          this.answers.set(key, response);
          const forget = () => this.answers.delete(key);
          if (this.inFlightOnly) void response.then(forget, forget);
        }
        // The gateway merges answers into its result in place: everyone sharing gets a copy of their own.
        // (`http`, the subgraph's HTTP answer, holds functions and is only read, so it is passed along as it is.)
        const budget = (options.context as { answerBudget?: AnswerBudget } | undefined)?.answerBudget;
        const mine = joined && budget ? charged(answer, budget, () => dataSource.process(options)) : answer;
        return mine.then(({ http, ...response }) => ({ ...structuredClone(response), http }));
      },
    };
  }

  private mayShare(options: GraphQLDataSourceProcessOptions<RequestScope>, query: string): boolean {
    if (!this.inFlightOnly) return this.ttlMs > 0 && !this.selectsViewerDependentField(query);
    const incoming = (options as { incomingRequestContext?: { operation?: { operation?: string } } }).incomingRequestContext;
    if (incoming?.operation?.operation !== 'query') return false;
    if (!options.context?.viewerId) return true;
    return query.includes('_entities(') && !this.selectsViewerDependentField(query);
  }

  /** Whether the operation selects a field marked @viewerDependent (then its answer depends on who asks). */
  selectsViewerDependentField(query: string): boolean {
    let answer = this.dependsOnViewer.get(query);
    if (answer === undefined) {
      answer = selectsFieldNamed(parse(query), this.viewerDependentFields);
      this.dependsOnViewer.set(query, answer);
    }
    return answer;
  }
}

/**
 * A copy of someone else's answer costs a request as much memory as fetching it would: charged to its own budget too,
 * and refused the same way. A fetch the first asker's budget refused (its request may have spent most of it on other
 * fetches) is made again, on this request's own budget, by `fetchOwn`.
 */
async function charged(answer: Promise<Response>, budget: AnswerBudget, fetchOwn: () => Promise<Response>): Promise<Response> {
  let response: Response;
  try {
    response = await answer;
  } catch (error) {
    if ((error as { extensions?: { code?: unknown } }).extensions?.code !== ErrorCode.RESPONSE_TOO_LARGE) throw error;
    return fetchOwn();
  }
  if (!charge(budget, answerBytes(response))) throw answerTooLarge(budget);
  return response;
}
