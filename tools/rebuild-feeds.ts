import { connectCassandra } from '../platform/cassandra/client.js';
import { loadConfig } from '../platform/config.js';
import { keyspaceOf } from '../platform/manifest.js';
import { rebuildTimeline } from '../subgraphs/feed/src/rebuild.js';
import { feedRepositories } from '../subgraphs/feed/src/repositories/index.js';

/**
 * npm run feeds:rebuild [-- --user <id>]
 * Recomputes home timelines from the feed subgraph's own data (who follows whom, each author's recent tweets),
 * for one user or for everyone, with a progress bar and a summary.
 */
const args = process.argv.slice(2);
const userFlag = args.indexOf('--user');
const onlyUser = userFlag >= 0 ? args[userFlag + 1] : undefined;
if (userFlag >= 0 && !onlyUser) {
  console.error('usage: npm run feeds:rebuild [-- --user <id>]');
  process.exit(2);
}

const config = loadConfig();
const cassandra = await connectCassandra(config, keyspaceOf('feed', config.TWTR_NAMESPACE));
const repositories = feedRepositories(cassandra, { trimEvery: config.FEED_TRIM_EVERY });
const started = Date.now();

let owners: string[];
if (onlyUser) {
  owners = [onlyUser];
} else {
  owners = [];
  for await (const owner of repositories.timelines.allTimelineOwners()) owners.push(owner);
}

let items = 0;
for (const [index, userId] of owners.entries()) {
  items += await rebuildTimeline(repositories, userId);
  progress(index + 1, owners.length);
}
process.stderr.write('\n');
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`rebuilt ${owners.length} timeline${owners.length === 1 ? '' : 's'} with ${items} items in ${seconds} s`);
await cassandra.shutdown();

function progress(done: number, total: number) {
  const width = 30;
  const filled = Math.round((done / Math.max(total, 1)) * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} timelines`);
}
