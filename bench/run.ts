// `npm run bench`: every benchmark, one after the other, so that ratios are measured side by side.
// `npm run bench -- keyspace`, `-- daemons` or `-- bootstrap` runs one; BENCH_KEYS=200000 runs the
// keyspace and bootstrap benchmarks smaller.
import '../src/polyfill.js';
import { benchBootstrap } from './bootstrap.js';
import { benchDaemons } from './daemons.js';
import { benchKeyspace } from './keyspace.js';

const only = process.argv[2];
if (only === undefined || only === 'keyspace') await benchKeyspace();
if (only === undefined || only === 'daemons') await benchDaemons();
if (only === undefined || only === 'bootstrap') await benchBootstrap();
