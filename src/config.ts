// Configuration: a JSON file validated against a schema, then command-line flags on top.
// A wrong file is refused with the field and the reason, before anything is opened.

import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { multiaddr } from '@multiformats/multiaddr';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { respConfigProblem } from './resp/address.js';
import { parseHostPort } from './net/host-port.js';
import { closest } from './suggest.js';

/** A multiaddr, refused with what the parser found wrong (a port over 65535, an unknown protocol). */
const Multiaddr = z.string().superRefine((s, ctx) => {
  try {
    multiaddr(s);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `not a valid multiaddr: ${(err as Error).message} (e.g. /ip4/127.0.0.1/tcp/7400)` });
  }
});
/** HOST:PORT of a TCP listener (resp, metrics), refused with what is wrong with it. */
const HostPortAddress = z.string().superRefine((s, ctx) => {
  const parsed = parseHostPort(s);
  if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
});

export const ConfigSchema = z.strictObject({
  /** Where the store, identity and control socket live. */
  dataDir: z.string().min(1).default('./data'),
  /** strict: a write is on disk before it is acknowledged; relaxed: on disk within a second. */
  durability: z.enum(['strict', 'relaxed']).default('strict'),
  /** Largest value accepted, in bytes. */
  maxValueBytes: z
    .number()
    .int()
    .min(1)
    .max(256 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  /** Most siblings (concurrent versions) one key may hold from a peer; more is refused. */
  maxSiblings: z.number().int().min(1).max(65536).default(1000),
  /** How far ahead of this node's clock a peer's write timestamp may be; further is refused. */
  maxClockSkewMs: z
    .number()
    .int()
    .min(1000)
    .default(10 * 60_000),
  /** Addresses to listen on for peers. */
  listen: z.array(Multiaddr).min(1).default(['/ip4/0.0.0.0/tcp/7400']),
  /** Peers to contact at start; the rest are learned through gossip. */
  bootstrap: z.array(Multiaddr).default([]),
  /** push: writes pushed at once; pull: moved by digest rounds only; hybrid: both. */
  mode: z.enum(['push', 'pull', 'hybrid']).default('hybrid'),
  gossipIntervalMs: z.number().int().min(10).max(3_600_000).default(1000),
  /** Peers to run a sync exchange with every gossip interval. */
  fanout: z.number().int().min(1).max(64).default(1),
  /**
   * mesh: every node dials every peer it knows and pushes each write to all of them; overlay: a
   * bounded active view (HyParView) holds the connections and writes travel along a tree of them
   * (Plumtree), with sync rounds to one random active peer.
   */
  topology: z.enum(['mesh', 'overlay']).default('mesh'),
  /** overlay: peers this node keeps connections to (the active view). */
  activeView: z.number().int().min(1).max(64).default(6),
  /** overlay: addresses kept to replace a lost active peer from (the passive view). */
  passiveView: z.number().int().min(1).max(1000).default(30),
  /**
   * Pre-shared swarm key file (replikv keygen): only nodes with the same key can connect. null:
   * DATA_DIR/swarm.key, generated on first start; "none": an open network (any host can connect).
   */
  swarmKey: z.string().min(1).nullable().default(null),
  /** The node's private key file; default DATA_DIR/identity.key (created if missing). */
  identity: z.string().min(1).nullable().default(null),
  /** The control socket; default DATA_DIR/control.sock. */
  control: z.string().min(1).nullable().default(null),
  /** A peer unreachable this long is dropped from dialling, peer exchange and status (default 24 h). */
  peerGoneAfterMs: z
    .number()
    .int()
    .min(1000)
    .default(24 * 3600_000),
  /** Time between garbage collections (tombstones and expired values every member has seen); 0: never collect. */
  gcIntervalMs: z.number().int().min(0).max(3_600_000).default(10_000),
  /**
   * A member silent this long is declared gone: garbage collection stops waiting for it, and if it
   * comes back with its old data it is refused until it re-bootstraps (Cassandra's gc_grace: 10 days).
   */
  gcGraceMs: z
    .number()
    .int()
    .min(1000)
    .default(10 * 24 * 3600_000),
  /** A sync stream that owes bytes and moved none this long is aborted (and one silent from the start closed). */
  transferIdleMs: z.number().int().min(1000).max(3_600_000).default(30_000),
  /**
   * Operator public keys (64 hex characters each, from replikv keygen --operator): a forget signed
   * by one of them spreads to every node; peers' other forgets are refused. Empty: forgets stay local.
   */
  operatorKeys: z.array(z.string().regex(/^[0-9a-fA-F]{64}$/, 'an operator public key is 64 hex characters (replikv keygen --operator prints it)')).default([]),
  /** When not empty, only these PeerIds may connect. */
  allowList: z.array(z.string().min(1)).default([]),
  /** Redis protocol (RESP) listener, HOST:PORT; null: none. A non-loopback address needs respPassword. */
  resp: HostPortAddress.nullable().default(null),
  /** The password Redis clients give with AUTH (or HELLO ... AUTH default PASSWORD); null: none. */
  respPassword: z.string().min(1).max(4096).nullable().default(null),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** HOST:PORT to serve Prometheus metrics, /healthz and /readyz on (read-only HTTP); null: off. */
  metrics: HostPortAddress.nullable().default(null),
});

/** The swarmKey value that opts out of a private network. */
export const OPEN_NETWORK = 'none';

type Parsed = z.infer<typeof ConfigSchema>;

/** The configuration with every path resolved. */
export interface Config extends Omit<Parsed, 'identity' | 'control'> {
  identity: string;
  control: string;
}

/** Loads and validates a config file (if given), applies overrides, resolves paths. */
export function loadConfig(file: string | undefined, overrides: Partial<Parsed> = {}): Config {
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const defined = Object.fromEntries(
    Object.entries(overrides).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)),
  );
  const merged = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, ...defined } : raw;
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const where = file ?? 'configuration';
    const reasons = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}${i.code === 'unrecognized_keys' && i.path.length === 0 ? didYouMean(i.keys) : ''}`);
    throw new ConfigError(`invalid ${where}: ${reasons.join('; ')}`);
  }
  const c = result.data;
  const respProblem = respConfigProblem(c.resp, c.respPassword);
  if (respProblem !== null) throw new ConfigError(`invalid ${file ?? 'configuration'}: ${respProblem}`);
  const dataDir = resolve(c.dataDir);
  return {
    ...c,
    dataDir,
    swarmKey: c.swarmKey === null || c.swarmKey === OPEN_NETWORK ? c.swarmKey : resolve(c.swarmKey),
    identity: resolve(c.identity ?? join(dataDir, 'identity.key')),
    control: resolve(c.control ?? join(dataDir, 'control.sock')),
  };
}

/** " (did you mean gossipIntervalMs?)" for misspelt top-level fields, else "". */
function didYouMean(keys: readonly string[]): string {
  const hints = keys.flatMap((k) => {
    const c = closest(k, Object.keys(ConfigSchema.shape));
    return c === undefined ? [] : [`${k} -> ${c}`];
  });
  return hints.length === 0 ? '' : ` (did you mean ${hints.join(', ')}?)`;
}
