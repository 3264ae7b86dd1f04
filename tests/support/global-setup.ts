import type { TestProject } from 'vitest/node';

import { migrateAll } from '../../tools/migrate.js';
import { TEST_ENV } from './env.js';
import { type Stack, startStack } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    routerUrl: string;
    routerOperatorUrl: string;
    subgraphUrls: Stack['subgraphUrls'];
  }
}

let stack: Stack | undefined;

/** Runs once for the whole test run: migrations, then the system, shared by every end-to-end test. */
export async function setup(project: TestProject) {
  Object.assign(process.env, TEST_ENV);
  await migrateAll();
  stack = await startStack();
  project.provide('routerUrl', stack.routerUrl);
  project.provide('routerOperatorUrl', stack.routerOperatorUrl);
  project.provide('subgraphUrls', stack.subgraphUrls);
}

export async function teardown() {
  await stack?.stop();
}
