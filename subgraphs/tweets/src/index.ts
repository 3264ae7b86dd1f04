import { runUntilSignalled } from '../../shared/runtime.js';
import { startTweets } from './server.js';

await runUntilSignalled('tweets', startTweets);
