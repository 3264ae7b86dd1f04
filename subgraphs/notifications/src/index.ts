import { runSubgraph } from '../../../platform/runtime.js';
import { subgraph } from './server.js';

await runSubgraph(subgraph);
