import './no-telemetry.js';

import { runUntilSignalled } from '../../platform/runtime.js';
import { startRouter } from './server.js';

await runUntilSignalled('router', startRouter);
