// `npm run bench`: every benchmark, one after the other, so that ratios are measured side by side.
// `npm run bench -- keyspace`, `-- daemons`, `-- bootstrap`, `-- backup`, `-- crypto`, `-- churn`, `-- cli`, `-- metrics`, `-- resp`, `-- commits`, `-- digest` or `-- recon` runs one; BENCH_KEYS=200000
// runs the keyspace, bootstrap and backup benchmarks smaller. `npm run bench -- scale --nodes 50` (bench/scale.ts,
// flags after the name) runs only when named: it starts 50 daemons.
import '../src/polyfill.js';
import { benchBackup } from './backup.js';
import { benchBootstrap } from './bootstrap.js';
import { benchChurn } from './churn.js';
import { benchCliLatency } from './cli-latency.js';
import { benchCommitRate } from './commit-rate.js';
import { benchCrypto } from './crypto-cost.js';
import { benchDaemons } from './daemons.js';
import { benchDigestSize } from './digest-size.js';
import { benchKeyspace } from './keyspace.js';
import { benchMetrics } from './metrics.js';
import { benchRecon } from './recon.js';
import { benchRespProtocol } from './resp-protocol.js';
import { benchScale } from './scale.js';

const only = process.argv[2];
if (only === undefined || only === 'keyspace') await benchKeyspace();
if (only === undefined || only === 'daemons') await benchDaemons();
if (only === undefined || only === 'bootstrap') await benchBootstrap();
if (only === undefined || only === 'backup') await benchBackup();
if (only === undefined || only === 'crypto') await benchCrypto();
if (only === undefined || only === 'churn') await benchChurn();
if (only === undefined || only === 'cli') await benchCliLatency();
if (only === undefined || only === 'metrics') await benchMetrics();
if (only === undefined || only === 'resp') await benchRespProtocol();
if (only === undefined || only === 'commits') await benchCommitRate();
if (only === undefined || only === 'digest') benchDigestSize();
if (only === undefined || only === 'recon') await benchRecon();
if (only === 'scale') await benchScale(process.argv.slice(3));
