import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { eventually, feedOf, follow, postTweet, signUp } from '../support/client.js';
import { type IsolatedNamespace, isolatedNamespace } from '../support/namespace.js';
import { startSystemProcesses, type SystemProcesses } from '../support/processes.js';

/** The production build (`npm run build`: tsc to dist/) run with plain node, as the image runs it. */
let isolated: IsolatedNamespace;
let system: SystemProcesses;

beforeAll(async () => {
  await promisify(execFile)('bash', ['scripts/build.sh']);
  isolated = await isolatedNamespace('b');
  system = await startSystemProcesses(isolated.env, { compiled: true });
}, 180_000);

afterAll(async () => {
  await system?.stop();
  await isolated?.remove();
}, 60_000);

describe('the compiled services', () => {
  it('run without tsx and serve the whole product: sign-up, follow, post, feed', async () => {
    for (const child of Object.values(system.children)) expect(child.spawnargs.join(' ')).not.toMatch(/tsx|\.ts\b/);
    const [author, reader] = await Promise.all([
      signUp('built', 'Built', system.routerUrl),
      signUp('built', 'Reader', system.routerUrl),
    ]);
    await follow(reader, author, system.routerUrl);
    const tweetId = await postTweet(author, 'from the compiled build', system.routerUrl);
    await eventually(async () => expect((await feedOf(reader, 5, system.routerUrl)).map((item) => item.id)).toContain(tweetId), {
      timeoutMs: 20_000,
    });
  }, 60_000);

  it('answer the probes the image and the cluster use', async () => {
    for (const url of [system.routerUrl, ...Object.values(system.subgraphUrls)]) {
      for (const path of ['/healthz', '/readyz', '/metrics'])
        expect((await fetch(url.replace(/\/graphql$/, path))).status, `${url} ${path}`).toBe(200);
    }
  });
});
