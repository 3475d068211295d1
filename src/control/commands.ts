// The CLI's client commands: each takes typed options and an Io, talks to the local daemon through
// the client library (replikv-client.ts), and writes plain text (or JSON with `json`). Errors are typed;
// cli.ts maps them to exit codes. What only one command needs (progress bars, key files) is
// loaded by that command: every call of the CLI pays for what it loads.

import { open } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { ReplikvError } from '../errors.js';
import type { PeerInfo, SignedForget, Status } from './api.js';
import { ReplikvClient } from './replikv-client.js';
import { untilAnswered } from './until-answered.js';
import type { ScanItem } from './wire.js';

/** A key the daemon does not have (or has only as a deletion). */
export class NotFoundError extends ReplikvError {
  override readonly code = 'NOT_FOUND';
}

export interface Io {
  stdin: Readable;
  stdout: Writable;
}

export interface Target {
  /** The daemon's data directory; its socket is DIR/control.sock. */
  dataDir?: string;
  /** The control socket itself (wins over dataDir). */
  control?: string;
  json?: boolean;
}

export function socketPathOf(t: Target): string {
  return resolve(t.control ?? join(t.dataDir ?? './data', 'control.sock'));
}

const clientOf = (t: Target) => new ReplikvClient({ socket: socketPathOf(t) });

/** Writes, waiting for the stream to drain when it asks to (large scans into a slow pipe). */
async function emit(out: Writable, data: string | Uint8Array): Promise<void> {
  if (!out.write(data)) await new Promise<void>((ok) => out.once('drain', ok));
}

const emitJson = (io: Io, value: unknown) => emit(io.stdout, JSON.stringify(value) + '\n');

/** Write concern options of put, del, expire, persist and import. */
export interface Concern {
  w?: number | 'all';
  timeout?: number;
}

export async function putCommand(o: Target & Concern & { key: string; value: string; context?: string; ttl?: number }, io: Io): Promise<void> {
  const body = o.value === '-' ? io.stdin : o.value;
  const reply = await clientOf(o).put(o.key, body, { context: o.context, w: o.w, timeoutMs: o.timeout, ttl: o.ttl });
  if (o.json) await emitJson(io, reply);
}

/** Makes KEY's value expire SECONDS from now (the daemon's clock); exit 1 when the key is absent. */
export async function expireCommand(o: Target & Concern & { key: string; seconds: number }, io: Io): Promise<void> {
  const reply = await clientOf(o).expire(o.key, o.seconds, { w: o.w, timeoutMs: o.timeout });
  if (reply === undefined) throw new NotFoundError(`not found: ${shownKey(o.key)}`);
  await (o.json ? emitJson(io, reply) : emit(io.stdout, `${shownKey(o.key)} expires in ${o.seconds} s (at ${new Date(reply.expireAt).toISOString()})\n`));
}

/** Removes KEY's expiry; a key without one is no error (nothing is written); exit 1 when absent. */
export async function persistCommand(o: Target & Concern & { key: string }, io: Io): Promise<void> {
  const reply = await clientOf(o).persist(o.key, { w: o.w, timeoutMs: o.timeout });
  if (reply === undefined) throw new NotFoundError(`not found: ${shownKey(o.key)}`);
  if (o.json) return emitJson(io, reply);
  await emit(io.stdout, reply.persisted ? `${shownKey(o.key)} no longer expires\n` : `${shownKey(o.key)} had no expiry (nothing changed)\n`);
}

/** Whole seconds KEY lives on (rounded up), -1 when it does not expire; exit 1 when absent or expired. */
export async function ttlCommand(o: Target & { key: string }, io: Io): Promise<void> {
  const reply = await clientOf(o).ttl(o.key);
  if (reply === undefined) throw new NotFoundError(`not found: ${shownKey(o.key)}`);
  await (o.json ? emitJson(io, reply) : emit(io.stdout, `${reply.ttl}\n`));
}

export async function delCommand(o: Target & Concern & { key: string; context?: string }, io: Io): Promise<void> {
  const reply = await clientOf(o).del(o.key, { context: o.context, w: o.w, timeoutMs: o.timeout });
  if (o.json) await emitJson(io, reply);
}

/** Raw value bytes; with json the full record (a deleted key then prints with value null). */
export async function getCommand(o: Target & { key: string }, io: Io): Promise<void> {
  const client = clientOf(o);
  if (o.json) {
    const rec = await client.readJson(o.key);
    if (rec === undefined) throw new NotFoundError(`not found: ${shownKey(o.key)}`);
    return emitJson(io, rec);
  }
  const value = await client.get(o.key);
  if (value === undefined) throw new NotFoundError(`not found: ${shownKey(o.key)}`);
  await emit(io.stdout, value);
}

/** A key for a one-line message: as it is, or JSON-quoted when it holds control characters. */
const shownKey = (key: string) => (/[\x00-\x1f\x7f]/.test(key) ? JSON.stringify(key) : key);

/** Pages through the scan; stops after `limit` items when given. Output is streamed page by page. */
export async function scanCommand(o: Target & { prefix?: string; after?: string; limit?: number }, io: Io): Promise<void> {
  let cursor: string | null = null;
  let first = true;
  if (o.json) await emit(io.stdout, '{"items":[');
  for await (const page of clientOf(o).scanPages(o)) {
    const lines = page.items.map((item) => (o.json ? JSON.stringify(item) : `${item.key}\t${textOf(item)}\n`));
    if (lines.length > 0) {
      await emit(io.stdout, (o.json && !first ? ',' : '') + lines.join(o.json ? ',' : ''));
      first = false;
    }
    cursor = page.cursor;
  }
  if (o.json) await emit(io.stdout, `],"cursor":${JSON.stringify(cursor)}}\n`);
}

const textOf = (item: ScanItem) => item.value ?? Buffer.from(item.valueBase64!, 'base64').toString('utf8');

/** Streams an NDJSON file (or stdin for `-` or no file) to the daemon. */
export async function importCommand(o: Target & Concern & { file?: string }, io: Io): Promise<void> {
  let source: Readable = io.stdin;
  if (o.file !== undefined && o.file !== '-') {
    try {
      source = (await open(o.file, 'r')).createReadStream();
    } catch (err) {
      throw new ReplikvError(`cannot read ${o.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  const reply = await clientOf(o).import(source, { w: o.w, timeoutMs: o.timeout });
  await (o.json ? emitJson(io, reply) : emit(io.stdout, `imported ${reply.imported} keys\n`));
}

export async function statusCommand(o: Target, io: Io): Promise<void> {
  const s = await clientOf(o).status();
  await (o.json ? emitJson(io, s) : emit(io.stdout, formatStatus(s)));
}

export async function peersCommand(o: Target, io: Io): Promise<void> {
  const peers = await clientOf(o).peers();
  await (o.json ? emitJson(io, peers) : emit(io.stdout, formatPeers(peers, Date.now())));
}

export async function keygenCommand(o: { out: string; force?: boolean; json?: boolean; operator?: boolean }, io: Io): Promise<void> {
  const file = resolve(o.out);
  if (o.operator === true) {
    const { writeOperatorKeyFile } = await import('./operator-key-file.js');
    const publicKey = writeOperatorKeyFile(file, o.force ?? false);
    return o.json
      ? emitJson(io, { file, publicKey })
      : emit(io.stdout, `wrote a new operator key to ${file} (mode 0600); keep it off the nodes. Its public key, for every node's operatorKeys (or --operator-key):\n${publicKey}\n`);
  }
  const { writeSwarmKeyFile } = await import('../net/swarm-key.js');
  writeSwarmKeyFile(file, o.force ?? false);
  await (o.json
    ? emitJson(io, { file })
    : emit(io.stdout, `wrote a new swarm key to ${file} (mode 0600); copy it to every node of the swarm\n`));
}

/** Recounts the local digest and compares with every connected peer; exit 1 when damage is found. */
export async function verifyCommand(o: Target, io: Io): Promise<void> {
  const r = await clientOf(o).verify();
  if (o.json) await emitJson(io, r);
  else {
    const l = r.local;
    const rows = [
      [
        'local',
        l.ok
          ? `ok: ${l.keys} keys, digest ${l.digest} recounted from every state`
          : `DAMAGED: recounted ${l.keysRecomputed} keys and digest ${l.recomputed}; the store says ${l.keys} keys and ${l.digest}; ${l.unreadable} unreadable states`,
      ],
      ...r.peers.map((p) => [
        `peer ${p.peerId}`,
        p.match === true
          ? 'ok: same digest at the same clock'
          : p.match === false
            ? `DIFFERENT digest at the same clock (theirs ${p.digest})${l.ok ? ': this node\'s recount is sound, so that peer is damaged or lying' : ''}`
            : `not compared: ${p.error ?? 'clocks still differ (writes in flight); try again'}`,
      ]),
    ];
    if (r.peers.length === 0) rows.push(['peers', 'none connected: only the local recount was checked']);
    const width = Math.max(...rows.map(([k]) => k!.length));
    await emit(io.stdout, rows.map(([k, v]) => `${k!.padEnd(width)}  ${v}\n`).join(''));
  }
  if (r.local.ok && !r.ok) {
    // A peer's word is no proof against this node: its recount is. Say which peer differs.
    const differing = r.peers.filter((p) => p.match === false).map((p) => p.peerId);
    throw new ReplikvError(
      `this node's store is intact (its recount matches), but ${differing.join(', ')} ${differing.length === 1 ? 'differs' : 'differ'} at the same clock: damaged or lying; run \`replikv verify\` there (the automatic heal merges meanwhile, and never overwrites this node)`,
    );
  }
  if (!r.ok) throw new ReplikvError('damage found: run `replikv repair` on the damaged node (it re-fetches the keyspace from a peer and keeps its own writes)');
}

/** Drops a peer from this node at once; signed with an operator key (`signKey`), from the others too, through gossip. */
export async function forgetCommand(o: Target & { peer: string; force?: boolean; signKey?: string }, io: Io): Promise<void> {
  let signed: SignedForget | undefined;
  if (o.signKey !== undefined) {
    const [{ readOperatorKeyFile }, { keyHex, signForget }] = await Promise.all([import('./operator-key-file.js'), import('../core/forget-record.js')]);
    const r = signForget(readOperatorKeyFile(o.signKey), o.peer, Date.now());
    signed = { at: r.at, key: keyHex(r.key), sig: keyHex(r.sig) };
  }
  const r = await clientOf(o).forget(o.peer, { force: o.force, signed });
  if (o.json) return emitJson(io, r);
  const where = r.spreads ? 'the other nodes are told at their next exchanges' : 'on this node only (unsigned: give --sign-key FILE with an operator key to tell the other nodes)';
  if (!r.forgotten) return emit(io.stdout, `${r.peer} was forgotten already${r.spreads ? `; ${where}` : ''}\n`);
  const unknown = r.known ? '' : ' (it was not in this node\'s peer table: check the PeerId)';
  await emit(io.stdout, `forgot ${r.peer}${unknown}; ${where}\n`);
}

/** Re-fetches the keyspace from a healthy peer, keeping writes only this node holds. */
export async function repairCommand(o: Target & { peer?: string }, io: Io): Promise<void> {
  const r = await clientOf(o).repair(o.peer);
  await (o.json
    ? emitJson(io, r)
    : emit(
        io.stdout,
        `repaired from ${r.peer}: received ${r.received} key states, replaced ${r.replaced}, removed ${r.removed}; digest ${r.digestBefore} -> ${r.digestAfter}\n`,
      ));
}

const POLL_MS = 250;
type SingleBar = import('cli-progress').SingleBar;

/**
 * Waits until the local node is ready (done bootstrapping), drawing a progress bar on stderr when
 * it is a terminal. Exits with an error naming the state and progress when the timeout passes.
 * It may start before the daemon: until the timeout, a socket nobody listens on yet means wait
 * (exit 2 when no daemon answered in time).
 */
export async function waitCommand(o: Target & { timeout?: number }, io: Io): Promise<void> {
  const client = clientOf(o);
  const deadline = o.timeout === undefined ? Infinity : Date.now() + o.timeout;
  // said once, so a wait on the wrong socket does not look like a hang (not with --json: stderr then carries only JSON)
  const onWaiting = () => void (o.json || process.stderr.write(`waiting for a replikv daemon on ${socketPathOf(o)} ...\n`));
  let bar: SingleBar | undefined;
  try {
    for (;;) {
      const s = await untilAnswered(() => client.status(), { deadline, timeoutMs: o.timeout, pollMs: POLL_MS, onWaiting });
      if (s.state === 'ready') {
        if (bar !== undefined) bar.update(bar.getTotal());
        bar?.stop();
        bar = undefined;
        return o.json ? emitJson(io, s) : emit(io.stdout, 'ready\n');
      }
      const b = s.bootstrap;
      if (process.stderr.isTTY && b?.keysTotal != null) {
        const payload = { rate: Math.round(b.rate).toLocaleString('en-US'), mb: (b.bytesReceived / 1e6).toFixed(1) };
        if (bar === undefined) {
          const { default: cliProgress } = await import('cli-progress');
          const { SingleBar, Presets } = cliProgress;
          bar = new SingleBar(
            { format: `${s.state} [{bar}] {percentage}% | {value}/{total} keys | {mb} MB | {rate} keys/s | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true },
            Presets.shades_classic,
          );
          bar.start(b.keysTotal, b.keysReceived, payload);
        } else {
          bar.setTotal(Math.max(b.keysTotal, b.keysReceived));
          bar.update(b.keysReceived, payload);
        }
      }
      if (Date.now() > deadline) {
        const progress = b === undefined ? '' : ` (${b.keysReceived} of ${b.keysTotal ?? '?'} keys)`;
        throw new ReplikvError(`not ready after ${o.timeout} ms: the node is ${s.state}${progress}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    bar?.stop();
  }
}

export function formatStatus(s: Status): string {
  const [firstAddr, ...moreAddrs] = s.addrs;
  const rows = [
    ['version', s.version],
    ['uptime', formatUptime(s.uptimeSeconds)],
    ['peer', s.peerId],
    ['replica', s.replicaId],
    ['addrs', firstAddr ?? '(none)'],
    ...moreAddrs.map((a) => ['', a]),
    ...(s.metrics == null ? [] : [['metrics', `http://${s.metrics.addr}/metrics`]]),
    ...(s.resp == null ? [] : [['resp', `${s.resp.addr} (Redis protocol)`]]),
    ['mode', s.mode],
    ['state', s.state],
    ...(s.bootstrap === undefined
      ? []
      : [['bootstrap', `${s.bootstrap.keysReceived} of ${s.bootstrap.keysTotal ?? '?'} keys, ${(s.bootstrap.bytesReceived / 1e6).toFixed(1)} MB, ${Math.round(s.bootstrap.rate)} keys/s, ETA ${s.bootstrap.etaSeconds === null ? '?' : `${Math.ceil(s.bootstrap.etaSeconds)} s`}`]]),
    ['keys', String(s.keys)],
    ...(s.tombstones === undefined ? [] : [['tombstones', String(s.tombstones)]]),
    ...(s.storeBytes === undefined ? [] : [['store', `${(s.storeBytes / 1048576).toFixed(1)} MiB in use`]]),
    ...(s.gc === undefined ? [] : [['gc', formatGc(s.gc)]]),
    ['digest', s.digest],
    ['peers', String(s.peers.length)],
    ...(s.refused !== undefined && s.refused.frames + s.refused.claimsCut + s.refused.forgets + (s.refused.frontiers ?? 0) > 0
      ? [
          [
            'refused',
            `${s.refused.frames} frames from peers, ${s.refused.claimsCut} claims cut` +
              (s.refused.forgets > 0 ? `, ${s.refused.forgets} forgets` : '') +
              ((s.refused.frontiers ?? 0) > 0 ? `, ${s.refused.frontiers} GC frontiers not believed` : ''),
          ],
        ]
      : []),
    ...(s.divergence === undefined ? [] : [['divergence', formatDivergence(s.divergence)]]),
    ...(s.equivocation === undefined || s.equivocation.detected === 0 ? [] : [['equivocation', `${counted(s.equivocation.detected, 'write')} held with two contents, by replica ${s.equivocation.replicas.join(' ')}`]]),
    ...(s.warnings ?? []).map((w) => ['warning', w]),
  ];
  const peers = s.peers.map((p) => ['', p.peerId, p.state, `behind ${p.behind}`]);
  return table(rows) + (peers.length > 0 ? table(peers) : '');
}

/** "collected 120 keys (130 siblings), held back by PEER (lacks 5) since 3s ago" */
function formatGc(g: NonNullable<Status['gc']>): string {
  if (!g.enabled) return 'off (gcIntervalMs 0)';
  const parts = [`collected ${counted(g.collected.keys, 'key')} (${counted(g.collected.siblings, 'sibling')})`];
  if (g.heldBackBy !== null) parts.push(`held back by ${g.heldBackBy.peer} (lacks ${g.heldBackBy.lacking}) since ${formatUptime((Date.now() - g.heldBackBy.since) / 1000)} ago`);
  if (g.gone.length > 0) parts.push(`gone: ${g.gone.join(' ')}`);
  if (g.withheldFrom.length > 0) parts.push(`behind this node's horizon: ${g.withheldFrom.map((w) => w.peer).join(' ')}`);
  if (g.behind.length > 0) parts.push(`this node is behind: ${g.behind.map((w) => w.peer).join(' ')}`);
  return parts.join('; ');
}

/** "1 key", "2 keys" */
const counted = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? '' : 's'}`;

/** "none", or "detected 2, healed 1, last 5s ago, differing now: PEER" */
function formatDivergence(d: NonNullable<Status['divergence']>): string {
  if (d.detected === 0) return 'none';
  const last = d.lastAt === null ? '' : `, last ${formatUptime((Date.now() - d.lastAt) / 1000)} ago`;
  return `detected ${d.detected}, healed ${d.healed}${last}${d.peers.length > 0 ? `, differing now: ${d.peers.join(' ')}` : ''}`;
}

/** 59 -> "59s", 3725 -> "1h 2m 5s", 90061 -> "1d 1h 1m 1s": the largest unit first, zeros left out. */
export function formatUptime(seconds: number): string {
  const parts: string[] = [];
  let rest = Math.max(0, Math.floor(seconds));
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) {
    if (rest >= size) parts.push(`${Math.floor(rest / size)}${unit}`);
    rest %= size;
  }
  if (rest > 0 || parts.length === 0) parts.push(`${rest}s`);
  return parts.join(' ');
}

export function formatPeers(peers: PeerInfo[], now: number): string {
  if (peers.length === 0) return 'no peers\n';
  const seen = (t: number | null) => (t === null ? '-' : `${Math.max(0, Math.round((now - t) / 1000))}s ago`);
  return table([
    ['PEER', 'STATE', 'BEHIND', 'LAST SEEN', 'REPLICA', 'ADDRS'],
    ...peers.map((p) => [p.peerId, p.state, String(p.behind), seen(p.lastSeen), p.replicaId ?? '-', p.addrs.join(' ') || '-']),
  ]);
}

/** Left-aligned columns, two spaces apart, no trailing spaces. */
export function table(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]! + 2))).join('') + '\n').join('');
}
