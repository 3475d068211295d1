// Two Linux network namespaces joined by a veth pair, for tests that need a slow or broken link
// between real daemons (throttling with tc, link down/up for partitions). Needs root and iproute2
// (`ip`, `tc`); any failure throws with the command and its output, so a test that needs a link
// fails loudly instead of being skipped. Names are unique per process and link; addresses come
// from 10.77.0.0/16 and exist only on the veth pair, which no other interface routes to.
import { execFileSync } from 'node:child_process';

let created = 0;

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`\`${cmd} ${args.join(' ')}\` failed (network namespaces need root and iproute2): ${e.stderr?.trim() || e.message}`);
  }
}

export interface Side {
  /** Network namespace name: run a process in it with `ip netns exec NAME ...`. */
  ns: string;
  /** The veth device inside it. */
  dev: string;
  ip: string;
}

export class NetnsLink {
  readonly a: Side;
  readonly b: Side;
  private removed = false;

  /** Creates both namespaces and the veth pair, with addresses, and brings everything up. */
  constructor() {
    const n = created++;
    const id = `${process.pid % 100_000}x${n}`; // veth names are at most 15 characters
    // One /30 per link: 10.77.X.Y with 14 bits from the pid and link number.
    const slot = (process.pid * 8 + n) % 16_384;
    const base = `10.77.${slot >> 6}.${(slot & 63) * 4}`.split('.').map(Number);
    const addr = (host: number): string => `${base[0]}.${base[1]}.${base[2]}.${base[3]! + host}`;
    this.a = { ns: `rkv${id}a`, dev: `rkv${id}a`, ip: addr(1) };
    this.b = { ns: `rkv${id}b`, dev: `rkv${id}b`, ip: addr(2) };
    try {
      for (const s of [this.a, this.b]) sh('ip', ['netns', 'add', s.ns]);
      sh('ip', ['link', 'add', this.a.dev, 'netns', this.a.ns, 'type', 'veth', 'peer', 'name', this.b.dev, 'netns', this.b.ns]);
      for (const s of [this.a, this.b]) {
        sh('ip', ['-n', s.ns, 'addr', 'add', `${s.ip}/30`, 'dev', s.dev]);
        sh('ip', ['-n', s.ns, 'link', 'set', s.dev, 'up']);
        sh('ip', ['-n', s.ns, 'link', 'set', 'lo', 'up']);
      }
    } catch (err) {
      this.remove();
      throw err;
    }
  }

  /** Arguments that run `command` inside a side's namespace. */
  exec(side: Side, command: string[]): string[] {
    return ['ip', 'netns', 'exec', side.ns, ...command];
  }

  /**
   * Limits both directions to `mbit` Mbit/s with a token bucket. The queue holds about 100 ms, so
   * TCP sees the rate as it would on a slow line (losses past that), not an ever-growing delay.
   */
  throttle(mbit: number): void {
    for (const s of [this.a, this.b]) {
      sh('ip', ['netns', 'exec', s.ns, 'tc', 'qdisc', 'replace', 'dev', s.dev, 'root', 'tbf', 'rate', `${mbit}mbit`, 'burst', '32kb', 'latency', '100ms']);
    }
  }

  /** Removes the throttling (both directions). */
  unthrottle(): void {
    for (const s of [this.a, this.b]) {
      // 'del' fails when no qdisc was added: that is fine here.
      try {
        sh('ip', ['netns', 'exec', s.ns, 'tc', 'qdisc', 'del', 'dev', s.dev, 'root']);
      } catch {
        // no qdisc to remove
      }
    }
  }

  /** Takes the link down (a partition) or brings it back up. */
  setUp(up: boolean): void {
    for (const s of [this.a, this.b]) sh('ip', ['-n', s.ns, 'link', 'set', s.dev, up ? 'up' : 'down']);
  }

  /** Deletes both namespaces (the veth pair goes with them). Safe to call more than once. */
  remove(): void {
    if (this.removed) return;
    this.removed = true;
    const failures: string[] = [];
    for (const s of [this.a, this.b]) {
      try {
        if (sh('ip', ['netns', 'list']).split('\n').some((l) => l.split(' ')[0] === s.ns)) sh('ip', ['netns', 'delete', s.ns]);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  }
}
