import './no-telemetry.js';
import { runUntilSignalled } from '../../subgraphs/shared/runtime.js';
import { startRouter } from './server.js';

await runUntilSignalled('router', startRouter);
