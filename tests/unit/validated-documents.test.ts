import { buildSchema } from 'graphql';
import { describe, expect, it } from 'vitest';

import { validatedDocuments } from '../../platform/http/graphql-ws.js';

const schema = buildSchema('type Query { ok: Boolean } type Subscription { ticks: Int }');

describe('operation documents over websockets', () => {
  it('parses and validates each text once, so subscribers sending the same operation share one document', () => {
    const documentOf = validatedDocuments(schema);
    const first = documentOf('subscription { ticks }');
    expect(first).toHaveProperty('kind', 'Document');
    expect(documentOf('subscription { ticks }')).toBe(first);
    expect(documentOf('subscription  { ticks }')).not.toBe(first);
  });

  it('does not keep a huge text, however often it is sent (a subscribe message may carry a megabyte)', () => {
    const documentOf = validatedDocuments(schema);
    const huge = `subscription { ticks }\n#${'x'.repeat(1 << 20)}`;
    const first = documentOf(huge);
    expect(first).toHaveProperty('kind', 'Document');
    expect(documentOf(huge)).not.toBe(first);
  });

  it('refuses with the codes HTTP uses, and remembers the refusal', () => {
    const documentOf = validatedDocuments(schema, { maxTokens: 20 });
    const invalid = documentOf('subscription { nope }');
    expect(invalid).toEqual([expect.objectContaining({ extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })]);
    expect(documentOf('subscription { nope }')).toBe(invalid);
    expect(documentOf('subscription {')).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: 'GRAPHQL_PARSE_FAILED' }) }),
    ]);
    expect(documentOf(`{ ${'ok '.repeat(30)}}`)).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/20 tokens/),
        extensions: expect.objectContaining({ code: 'GRAPHQL_PARSE_FAILED' }),
      }),
    ]);
  });
});
