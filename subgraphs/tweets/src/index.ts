import { runUntilSignalled } from '../../../platform/runtime.js';
import { startTweets } from './server.js';

await runUntilSignalled('tweets', startTweets);
