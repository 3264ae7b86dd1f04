import { loadConfig } from '../platform/config.js';
import { redriveDeadLetters } from '../platform/messaging/redrive.js';

/** npm run events:redrive -- --queue <name>: moves <name>.dead back onto <name> and says what it moved. */
const args = process.argv.slice(2);
const queue = args[args.indexOf('--queue') + 1];
if (!args.includes('--queue') || !queue) {
  console.error('usage: npm run events:redrive -- --queue <name>   (e.g. feed, feed.fanout, follows)');
  process.exit(2);
}
const report = await redriveDeadLetters(loadConfig().AMQP_URL, queue);
const types = Object.entries(report.byType).map(([type, count]) => `${count} ${type}`);
console.log(
  `moved ${report.moved} dead letter${report.moved === 1 ? '' : 's'} from ${queue}.dead to ${queue}${types.length ? `: ${types.join(', ')}` : ''}`,
);
