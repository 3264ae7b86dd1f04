import { runUntilSignalled } from '../../shared/runtime.js';
import { startFeed } from './server.js';

await runUntilSignalled('feed', startFeed);
