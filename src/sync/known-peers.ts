// The peers a node remembers across a restart (meta record `peers`). Pure: which peers are worth
// remembering, the record's codec, and when to write it. The replicator reads the record at start
// and writes it now and then; membership.ts dials the remembered peers like learned ones.
//
// Only what this node checked itself is remembered: peers that connected (a Noise handshake proved
// the PeerId), at addresses where a dial reached them or that they announced themselves over that
// connection (identify). Addresses other peers passed on (peer exchange) are believed for this run
// only: a member must not be able to make this node dial addresses of its choosing after every restart.

import { DecodeError } from '../errors.js';
import { dialablePeerId, MAX_ADDRS_PER_PEER, MAX_KNOWN_PEERS } from './limits.js';

/** A peer remembered: its PeerId, when it was last connected or heard (wall ms), its full addresses (…/p2p/PeerId). */
export interface KnownPeer {
  peerId: string;
  lastSeen: number;
  addrs: string[];
}

export const KNOWN_PEERS_VERSION = 1;
/** The record is written at most this often (and at stop), never per write. */
export const SAVE_MIN_GAP_MS = 30_000;
/** Unchanged peers are still written this often, so last-seen times survive a crash fresh enough. */
export const SAVE_REFRESH_MS = 10 * 60_000;
/** Longer transport addresses are not remembered (a DNS name is at most 253 characters). */
export const MAX_TRANSPORT_CHARS = 320;
/** A larger record is damage: the bounds above keep an honest one under about 3 MB. */
export const MAX_RECORD_BYTES = 4 * 1024 * 1024;

export interface SelectOptions {
  now: number;
  /** Peers not seen for longer than this are not remembered (they would be dropped as gone). */
  goneAfterMs: number;
  isForgotten: (peerId: string) => boolean;
  maxPeers?: number;
  maxAddrsPerPeer?: number;
}

/**
 * The peers worth remembering: not forgotten, seen within goneAfterMs, with at least one dialable
 * address naming them; the most recently seen first, at most maxPeers of them and maxAddrsPerPeer
 * addresses each. A last-seen time in the future (a clock stepped back) counts as now.
 */
export function selectKnownPeers(peers: Iterable<KnownPeer>, o: SelectOptions): KnownPeer[] {
  const maxAddrs = o.maxAddrsPerPeer ?? MAX_ADDRS_PER_PEER;
  const byId = new Map<string, KnownPeer>();
  for (const p of peers) {
    if (byId.has(p.peerId) || o.isForgotten(p.peerId) || !Number.isSafeInteger(p.lastSeen) || p.lastSeen < 0) continue;
    const lastSeen = Math.min(p.lastSeen, o.now);
    if (o.now - lastSeen > o.goneAfterMs) continue;
    const addrs = validAddrs(p.peerId, p.addrs, maxAddrs);
    if (addrs.length > 0) byId.set(p.peerId, { peerId: p.peerId, lastSeen, addrs });
  }
  return [...byId.values()]
    .sort((a, b) => b.lastSeen - a.lastSeen || (a.peerId < b.peerId ? -1 : a.peerId > b.peerId ? 1 : 0))
    .slice(0, o.maxPeers ?? MAX_KNOWN_PEERS);
}

/** Distinct canonical TCP addresses that name `peerId`, short enough, at most `max`. */
function validAddrs(peerId: string, addrs: readonly unknown[], max: number): string[] {
  const out: string[] = [];
  for (const a of addrs) {
    if (out.length >= max) break;
    if (typeof a !== 'string' || out.includes(a) || transport(a, peerId).length > MAX_TRANSPORT_CHARS) continue;
    if (dialablePeerId(a) === peerId) out.push(a);
  }
  return out;
}

function transport(addr: string, peerId: string): string {
  const suffix = `/p2p/${peerId}`;
  return addr.endsWith(suffix) ? addr.slice(0, -suffix.length) : addr;
}

/** What a write would change: the peers and their addresses, not the times (those alone wait for the refresh). */
export function knownPeersKey(peers: readonly KnownPeer[]): string {
  return JSON.stringify(peers.map((p) => [p.peerId, p.addrs]).sort((a, b) => (a[0]! < b[0]! ? -1 : 1)));
}

/**
 * Whether to write the record now: never twice within SAVE_MIN_GAP_MS; then when the peers or their
 * addresses changed, or SAVE_REFRESH_MS after the last write. `last` is null before the first.
 */
export function saveDue(last: { key: string; at: number } | null, key: string, now: number): boolean {
  if (last === null) return true;
  if (!gapPassed(last.at, now)) return false;
  return key !== last.key || now - last.at >= SAVE_REFRESH_MS || now < last.at;
}

/** SAVE_MIN_GAP_MS has passed since `at` (or the clock went back past it). */
export function gapPassed(at: number, now: number): boolean {
  return now < at || now - at >= SAVE_MIN_GAP_MS;
}

/** The record: compact JSON, `{"v":1,"peers":[[peerId, lastSeen, [transport, ...]], ...]}` (the /p2p/ suffix is implied). */
export function encodeKnownPeers(peers: readonly KnownPeer[]): Uint8Array {
  const rows = peers.map((p) => [p.peerId, p.lastSeen, p.addrs.map((a) => transport(a, p.peerId))]);
  return Buffer.from(JSON.stringify({ v: KNOWN_PEERS_VERSION, peers: rows }));
}

/**
 * Reads a record written by encodeKnownPeers, trusting nothing: a record that is not one (not JSON,
 * another version, the wrong shape, too large) throws DecodeError; an entry with an invalid PeerId,
 * time or address is skipped (counted), as are entries and addresses past the limits.
 */
export function decodeKnownPeers(raw: Uint8Array, limits: { maxPeers?: number; maxAddrsPerPeer?: number } = {}): { peers: KnownPeer[]; skipped: number } {
  if (raw.length > MAX_RECORD_BYTES) throw new DecodeError(`the record is ${raw.length} bytes, more than ${MAX_RECORD_BYTES}`);
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(raw).toString('utf8'));
  } catch (err) {
    throw new DecodeError(`not JSON: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new DecodeError('not an object');
  const { v, peers: rows } = doc as { v?: unknown; peers?: unknown };
  if (v !== KNOWN_PEERS_VERSION) throw new DecodeError(`unknown version ${JSON.stringify(v) ?? 'none'} (this replikv reads ${KNOWN_PEERS_VERSION})`);
  if (!Array.isArray(rows)) throw new DecodeError('no list of peers');
  const maxPeers = limits.maxPeers ?? MAX_KNOWN_PEERS;
  const maxAddrs = limits.maxAddrsPerPeer ?? MAX_ADDRS_PER_PEER;
  const peers: KnownPeer[] = [];
  const seen = new Set<string>();
  let skipped = 0;
  for (const row of rows as unknown[]) {
    const p = peers.length < maxPeers ? decodeRow(row, maxAddrs) : null;
    if (p === null || seen.has(p.peerId)) {
      skipped++;
      continue;
    }
    seen.add(p.peerId);
    peers.push(p);
  }
  return { peers, skipped };
}

function decodeRow(row: unknown, maxAddrs: number): KnownPeer | null {
  if (!Array.isArray(row) || row.length !== 3) return null;
  const [peerId, lastSeen, transports] = row as unknown[];
  if (typeof peerId !== 'string' || peerId.length > 128 || !Number.isSafeInteger(lastSeen) || (lastSeen as number) < 0) return null;
  if (!Array.isArray(transports)) return null;
  const full = transports.map((t) => (typeof t === 'string' ? `${t}/p2p/${peerId}` : null));
  // validAddrs checks each address names this PeerId, which also checks the PeerId itself.
  const addrs = validAddrs(peerId, full, maxAddrs);
  return addrs.length === 0 ? null : { peerId, lastSeen: lastSeen as number, addrs };
}
