import { describe, expect, inject, it } from 'vitest';

const OPERATOR_PATHS = ['/healthz', '/readyz', '/metrics'];

describe("the router's operator endpoints", () => {
  it('are not on the public port: /healthz, /readyz, /metrics (and /health) answer 404 there', async () => {
    const publicOrigin = new URL(inject('routerUrl')).origin;
    for (const path of [...OPERATOR_PATHS, '/health']) {
      const response = await fetch(`${publicOrigin}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text(), path).not.toMatch(/twtr_|"status"/);
    }
  });

  it('are on the operator port, which serves nothing else', async () => {
    const operator = inject('routerOperatorUrl');
    expect(new URL(operator).port).not.toBe(new URL(inject('routerUrl')).port);
    for (const path of OPERATOR_PATHS) expect((await fetch(`${operator}${path}`)).status, path).toBe(200);
    const graphql = await fetch(`${operator}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(graphql.status).toBe(404);
  });
});
