// Real replikv daemons as child processes on 127.0.0.1, for integration tests. Each gets its own
// data directory and an OS-chosen port; its first log line tells its PeerId and addresses. The
// daemons of a Fleet share one swarm key (a daemon without one would generate its own and reach no
// other), unless a test passes its own `swarmKey` (null: none, so the daemon uses DATA_DIR/swarm.key).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ControlClient } from '../../src/control/client.js';
import { readSwarmKeyFile, writeSwarmKeyFile } from '../../src/net/swarm-key.js';
import type { Status } from '../../src/control/api.js';
import { built, eventually, run, until, type Child } from './process.js';

export const CLI = built('src/cli.ts');

export interface DaemonOptions {
  mode?: 'push' | 'pull' | 'hybrid';
  bootstrap?: string[];
  /** A swarm key file; Fleet.start gives the fleet's shared key when undefined; null passes none. */
  swarmKey?: string | null;
  gossipIntervalMs?: number;
  dataDir?: string;
  identity?: string;
  /** Default /ip4/127.0.0.1/tcp/0 (a port the OS picks). */
  listen?: string;
  extra?: string[];
  /** Run inside this network namespace (helpers/netns.ts); the control socket stays reachable. */
  netns?: string;
  /** How long the daemon may take to log that it started (default 30 s; a benchmark starting many on a loaded machine gives more). */
  startMs?: number;
}

export class TestDaemon {
  child!: Child;
  peerId = '';
  addrs: string[] = [];
  readonly client: ControlClient;

  constructor(
    readonly dataDir: string,
    readonly opts: DaemonOptions,
  ) {
    this.client = new ControlClient(join(dataDir, 'control.sock'));
  }

  async start(): Promise<this> {
    const o = this.opts;
    const args = [CLI, 'daemon', '--data-dir', this.dataDir, '--listen', o.listen ?? '/ip4/127.0.0.1/tcp/0', '--mode', o.mode ?? 'hybrid'];
    args.push('--gossip-interval', String(o.gossipIntervalMs ?? 200));
    for (const b of o.bootstrap ?? []) args.push('--bootstrap', b);
    if (o.swarmKey !== undefined && o.swarmKey !== null) args.push('--swarm-key', o.swarmKey);
    if (o.identity !== undefined) args.push('--identity', o.identity);
    args.push(...(o.extra ?? []));
    this.child = run(args, o.netns === undefined ? {} : { prefix: ['ip', 'netns', 'exec', o.netns] });
    await until(() => this.child.stderr().includes('replikv daemon started') || this.child.proc.exitCode !== null, 'the daemon to start', o.startMs ?? 30_000);
    if (this.child.proc.exitCode !== null) throw new Error(`daemon exited early: ${this.child.stderr()}`);
    const first = JSON.parse(this.child.stderr().split('\n')[0]!) as { peerId: string; addrs: string[] };
    this.peerId = first.peerId;
    this.addrs = first.addrs;
    return this;
  }

  /** The address others bootstrap from. */
  get addr(): string {
    return this.addrs[0]!;
  }

  status(): Promise<Status> {
    return this.client.status();
  }

  /** Runs the real CLI against this daemon. */
  async cli(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const c = run([CLI, ...args, '--data-dir', this.dataDir]);
    const { code } = await c.exited;
    return { code, stdout: c.stdout(), stderr: c.stderr() };
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.proc.exitCode !== null || this.child.proc.signalCode !== null) return this.child.exited;
    this.child.proc.kill(signal);
    return this.child.exited;
  }
}

/** Tracks daemons and directories so a test can clean up whatever it started. */
export class Fleet {
  readonly daemons: TestDaemon[] = [];
  private readonly dirs: string[] = [];
  private keyFile: string | undefined;

  tmpdir(): string {
    const d = mkdtempSync(join(tmpdir(), 'rkv-'));
    this.dirs.push(d);
    return d;
  }

  /** The swarm key file every daemon of this fleet gets unless its test passes another (made on first use). */
  swarmKeyFile(): string {
    if (this.keyFile === undefined) {
      this.keyFile = join(this.tmpdir(), 'fleet-swarm.key');
      writeSwarmKeyFile(this.keyFile);
    }
    return this.keyFile;
  }

  async start(opts: DaemonOptions = {}): Promise<TestDaemon> {
    const withKey = opts.swarmKey === undefined ? { ...opts, swarmKey: this.swarmKeyFile() } : opts;
    const d = new TestDaemon(opts.dataDir ?? this.tmpdir(), withKey);
    this.daemons.push(d);
    return d.start();
  }

  /** What a libp2p node made by a test (a hostile peer) needs to reach this fleet's daemons. */
  networkOptions(): { swarmKey: Uint8Array } {
    return { swarmKey: readSwarmKeyFile(this.swarmKeyFile()) };
  }

  /** n daemons; all but the first bootstrap from the first. */
  async cluster(n: number, opts: DaemonOptions = {}): Promise<TestDaemon[]> {
    const first = await this.start(opts);
    const rest = await Promise.all(Array.from({ length: n - 1 }, () => this.start({ ...opts, bootstrap: [first.addr] })));
    return [first, ...rest];
  }

  /** The last lines each daemon logged (for a failing test's report). */
  logs(lines = 15): string {
    return this.daemons.map((d, i) => `--- daemon ${i} (${d.peerId.slice(-6)})\n${d.child.stderr().split('\n').slice(-lines).join('\n')}`).join('\n');
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d.stop('SIGKILL').catch(() => undefined)));
    this.daemons.length = 0;
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
    this.keyFile = undefined;
  }
}

/** Waits until every daemon sees every other as alive. */
export async function untilConnected(nodes: TestDaemon[], ms = 30_000): Promise<void> {
  await eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s) => s.peers.filter((p) => p.state === 'alive').length === nodes.length - 1),
    `all ${nodes.length} daemons to see each other alive`,
    ms,
  );
}

/** Waits until all daemons report the same digest and key count (returns their statuses). */
export function untilConverged(nodes: TestDaemon[], keys: number, ms = 40_000): Promise<Status[]> {
  return eventually(
    () => Promise.all(nodes.map((n) => n.status())),
    (all) => all.every((s) => s.digest === all[0]!.digest && s.keys === keys),
    `convergence of ${nodes.length} daemons on ${keys} keys`,
    ms,
  );
}
