import { runUntilSignalled } from '../../shared/runtime.js';
import { startFollows } from './server.js';

await runUntilSignalled('follows', startFollows);
