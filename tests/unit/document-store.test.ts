import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';

import { documentStore } from '../../platform/http/document-store.js';

describe("the router's store of parsed documents", () => {
  it('counts the query text each document keeps alive, so padded queries cannot pile up', async () => {
    const store = documentStore(4 << 20);
    const padded = (n: number) => parse(`{ a${n}: __typename }\n#${'x'.repeat(1 << 20)}`);
    for (let n = 0; n < 10; n++) await store.set(`padded ${n}`, padded(n));
    const kept = [];
    for (let n = 0; n < 10; n++) if (await store.get(`padded ${n}`)) kept.push(n);
    // A megabyte each against 4 MiB: the last three (Apollo's own sizing would have kept all ten, at about 400 bytes each).
    expect(kept).toEqual([7, 8, 9]);
  });

  it('keeps ordinary documents and gives them back as they were stored', async () => {
    const store = documentStore();
    const document = parse('{ me { username } }');
    await store.set('me', document);
    expect(await store.get('me')).toBe(document);
    await store.delete('me');
    expect(await store.get('me')).toBeUndefined();
  });
});
