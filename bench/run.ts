// `npm run bench`: every benchmark, one after the other, in one process run so that ratios
// are measured side by side. Set BENCH_KEYS to run smaller.
import { benchKeyspace } from './keyspace.js';

await benchKeyspace();
