// `replikv daemon`: its flags and config loading. Kept apart from daemon.ts so that the client
// commands, which share cli.ts, start without loading the storage and network stack.

import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { Config } from './config.js';
import { ConfigError } from './errors.js';
import { takeEarlySignals } from './early-signals.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `replikv daemon`: flags override the config file. */
export function daemonCommand(): Command {
  return new Command('daemon')
    .description('run the replikv daemon for this machine: replicate with peers, serve the local control socket (until SIGINT or SIGTERM)')
    .option('--config <file>', 'JSON config file: every field and its default in README, "Configuration" (an example: config/default.json in the package)')
    .option('--data-dir <dir>', 'data directory (default ./data)')
    .option('--listen <multiaddr>', 'address to listen on for peers; repeat for more (default /ip4/0.0.0.0/tcp/7400)', collect)
    .option('--bootstrap <multiaddr>', 'a peer to contact at start; repeat for more (peers met before are remembered in the store and dialled too)', collect)
    .addOption(new Option('--mode <mode>', 'how writes move: push, pull or hybrid (default hybrid)').choices(['push', 'pull', 'hybrid']))
    .option('--gossip-interval <ms>', 'milliseconds between digest rounds (default 1000)', (v) => Number(v))
    .addOption(new Option('--topology <topology>', 'mesh: connect to every known peer and push to all (default); overlay: keep a bounded active view (HyParView) and push along a tree of it (Plumtree)').choices(['mesh', 'overlay']))
    .option('--active-view <n>', 'overlay: peers this node keeps connections to (default 6)', (v) => Number(v))
    .option('--passive-view <n>', 'overlay: addresses kept to replace lost active peers from (default 30)', (v) => Number(v))
    .option('--swarm-key <file>', 'private network key shared by every node (default DATA_DIR/swarm.key, generated on first start; make one with: replikv keygen --out FILE)')
    .option('--identity <file>', 'private key file (default DATA_DIR/identity.key, created if missing)')
    .option('--control <path>', 'control socket (default DATA_DIR/control.sock)')
    .option('--operator-key <hex>', 'an operator public key (from replikv keygen --operator): forgets it signs spread to this node; repeat for more (config operatorKeys)', collect)
    .addOption(new Option('--durability <mode>', 'strict (synced before ack) or relaxed (synced within 1 s)').choices(['strict', 'relaxed']))
    .option('--gc-interval <ms>', 'milliseconds between garbage collections of deletes and expired values every member has seen; 0: never (default 10000)', (v) => Number(v))
    .option('--gc-grace <ms>', 'a member silent this long is declared gone: GC stops waiting for it, and it must re-bootstrap to come back (default 864000000, 10 days)', (v) => Number(v))
    .option('--metrics <host:port>', 'serve Prometheus metrics at /metrics, and /healthz and /readyz, over HTTP on HOST:PORT (port 0: any free port; default off)')
    .option('--resp <host:port>', 'also serve the Redis protocol (redis-cli, Redis clients) on HOST:PORT, e.g. 127.0.0.1:6379 (port 0: any free port, logged as "resp listening"); off by default')
    .option('--resp-password-file <file>', 'the password Redis clients must give with AUTH, read from FILE (its first line); required when --resp is not a loopback address')
    .addHelpText(
      'after',
      `
One daemon per data directory: it holds a lock on DATA_DIR/daemon.lock (released by the kernel
when the process ends, kill -9 included), and a second daemon exits naming the first one's pid.
A start that is refused creates nothing: no identity key, no store, no new data directory.

Private by default: without --swarm-key (or config swarmKey) the first start writes a new key to
DATA_DIR/swarm.key (mode 0600) and later starts reuse it; only nodes holding the same key connect.
To add a machine, copy that file to it and start it with --swarm-key FILE --bootstrap ADDR.
Config "swarmKey": "none" runs an open network instead. The data directory is created 0700 and
the store files 0600; existing ones open to other users are logged as a warning.

Forgetting peers: replikv forget PEER drops a peer on this node only. To make a forget spread, make
an operator key once (replikv keygen --operator --out FILE, kept off the nodes), give its public half
to every node (--operator-key HEX or config "operatorKeys"), and forget with --sign-key FILE. A node
refuses (logs and counts) any forget a peer sends that no configured operator key signed.

Signals: SIGINT or SIGTERM stops cleanly (also during start-up or a bootstrap, which resumes at the
next start); a second one during the stop exits at once with code 1. SIGHUP is ignored (logged):
the log goes to stderr, so there is no log file to reopen.

Metrics (--metrics HOST:PORT, config "metrics"; off by default): GET /metrics is Prometheus text,
/healthz answers 200 while the store is open, /readyz 200 when the node is ready and 503 while it
bootstraps or repairs. Read-only, but it shows PeerIds and counts: a non-loopback address is
logged at start. A busy metrics port refuses the start (exit 75) like a busy listen address.

Redis protocol: --resp HOST:PORT (config "resp") serves RESP2 and RESP3 to redis-cli and Redis
clients: GET, SET, MGET, MSET, DEL, EXPIRE, TTL, SCAN, WAIT and more (README, "Redis protocol").
A listener other than loopback (127.0.0.1, ::1) is refused without a password: give it with
--resp-password-file FILE or config "respPassword"; clients then AUTH with it. A busy --resp port
refuses the start (exit 75) like a busy listen address.

Exit codes: 0 stopped cleanly; 78 bad configuration (config file, flags, swarm key file, a listen
address not on this machine); 75 the data directory is in use by another daemon or cannot be
created or written, or a listen address (--listen, --metrics, --resp) is in use; 1 anything else.
`,
    )
    .action(async (opts: Record<string, unknown>) => {
      const { loadConfig } = await import('./config.js'); // zod: loaded only when a daemon runs
      const config = loadConfig(opts.config as string | undefined, {
        dataDir: opts.dataDir as string | undefined,
        listen: opts.listen as string[] | undefined,
        bootstrap: opts.bootstrap as string[] | undefined,
        mode: opts.mode as Config['mode'] | undefined,
        gossipIntervalMs: opts.gossipInterval as number | undefined,
        topology: opts.topology as Config['topology'] | undefined,
        activeView: opts.activeView as number | undefined,
        passiveView: opts.passiveView as number | undefined,
        swarmKey: opts.swarmKey as string | undefined,
        identity: opts.identity as string | undefined,
        control: opts.control as string | undefined,
        operatorKeys: opts.operatorKey as string[] | undefined,
        durability: opts.durability as Config['durability'] | undefined,
        gcIntervalMs: opts.gcInterval as number | undefined,
        gcGraceMs: opts.gcGrace as number | undefined,
        metrics: opts.metrics as string | undefined,
        resp: opts.resp as string | undefined,
        respPassword: opts.respPasswordFile === undefined ? undefined : readPasswordFile(opts.respPasswordFile as string),
      });
      // A SIGINT or SIGTERM while the modules loaded stops the daemon before it starts (nothing is
      // created yet) rather than killing it with the default action (early-signals.ts).
      const { runDaemon } = await import('./daemon.js');
      const early = takeEarlySignals();
      if (early.some((s) => s !== 'SIGHUP')) {
        process.stderr.write(`replikv: ${early.find((s) => s !== 'SIGHUP')} before start-up finished: not started\n`);
        return void setImmediate(() => process.exit(0));
      }
      try {
        await runDaemon(config);
      } finally {
        // Stopped cleanly or refused to start, and the log is written (its destination is
        // synchronous): exit now. libp2p leaves timers behind when it stops (its address
        // manager's 1 s debounce), which would hold the process a second or more. main() sets
        // the exit code in the microtasks that follow, before this callback runs.
        setImmediate(() => process.exit());
      }
    });
}

/** The RESP password from a file: its first line (a trailing newline is not part of it). */
function readPasswordFile(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read the resp password file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const password = text.split(/\r?\n/)[0]!;
  if (password === '') throw new ConfigError(`the resp password file ${file} is empty (its first line is the password)`);
  return password;
}
