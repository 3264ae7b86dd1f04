import type { DocumentStore } from '@apollo/server';
import type { DocumentNode } from 'graphql';
import { LRUCache } from 'lru-cache';

/** What a parsed document keeps alive, in characters: its JSON and, through every node's location, its whole text. */
export const documentSize = (document: DocumentNode) => JSON.stringify(document).length + (document.loc?.source.body.length ?? 0);

/**
 * Apollo Server's store of parsed documents (keyed by the query's hash), sized by what each document keeps alive.
 * Apollo's own sizes a document by its JSON, in which a location is two numbers, yet every node's location holds the
 * whole query text: a query padded with a megabyte of comment counted as 400 bytes of its 30 MiB while keeping its
 * megabyte, so a few thousand such requests could hold gigabytes. Here the text counts too.
 */
export function documentStore(maxCharacters = 30 << 20): DocumentStore {
  const documents = new LRUCache<string, DocumentNode>({ maxSize: maxCharacters, sizeCalculation: documentSize });
  return {
    get: async (key) => documents.get(key),
    set: async (key, document) => void documents.set(key, document),
    delete: async (key) => documents.delete(key),
  };
}
