import { runUntilSignalled } from '../../../platform/runtime.js';
import { startUsers } from './server.js';

await runUntilSignalled('users', startUsers);
