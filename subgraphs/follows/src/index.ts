import { runUntilSignalled } from '../../../platform/runtime.js';
import { startFollows } from './server.js';

await runUntilSignalled('follows', startFollows);
