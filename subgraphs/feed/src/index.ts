import { runUntilSignalled } from '../../../platform/runtime.js';
import { startFeed } from './server.js';

await runUntilSignalled('feed', startFeed);
