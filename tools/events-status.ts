import { loadConfig } from '../platform/config.js';
import { eventsStatus, formatEventsStatus } from '../platform/messaging/status.js';

/** npm run events:status: each queue's depth, consumers and dead letters, and each outbox's backlog, as tables. */
console.log(formatEventsStatus(await eventsStatus(loadConfig())));
