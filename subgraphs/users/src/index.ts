import { runUntilSignalled } from '../../shared/runtime.js';
import { startUsers } from './server.js';

await runUntilSignalled('users', startUsers);
