// Overlay messages (HyParView membership, Plumtree broadcast): pure encode and strict decode.
// They share the sync frame's type byte, in the range 40-59, so one stream can carry both. Every
// frame from a peer passes through decodeOverlay, which returns a well-formed message or throws
// DecodeError; every list and string has a bound, so a peer cannot make us allocate without limit.

import { Reader, Writer } from '../core/bytes.js';
import type { Dot, ReplicaId } from '../core/replica.js';

export const OVERLAY_MSG = {
  join: 40,
  forwardJoin: 41,
  neighbor: 42,
  disconnect: 43,
  shuffle: 44,
  shuffleReply: 45,
  gossip: 46,
  ihave: 47,
  graft: 48,
  prune: 49,
} as const;

/** A peer's identity (a libp2p PeerId string, or any short text in the simulator). */
export type PeerId = string;

/** A peer and how to reach it: multiaddrs (may be empty when the host knows them otherwise). */
export interface PeerInfo {
  id: PeerId;
  addrs: string[];
}

export const MAX_PEER_ID_BYTES = 128;
export const MAX_ADDRS = 8;
export const MAX_ADDR_BYTES = 1024;
/** Peers in one SHUFFLE or SHUFFLE_REPLY. */
export const MAX_SHUFFLE_NODES = 32;
/** Random-walk lengths are small (6 by default); a larger one is a peer trying to make us loop. */
export const MAX_TTL = 16;
/** Ids in one IHAVE. */
export const MAX_IHAVE = 1024;
/** Tree depth: no tree of a million nodes with degree >= 5 is deeper than this. */
export const MAX_ROUND = 4096;
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024;

export type OverlayMessage =
  | { type: typeof OVERLAY_MSG.join; addrs: string[] }
  | { type: typeof OVERLAY_MSG.forwardJoin; peer: PeerInfo; ttl: number }
  /** reply: the answer to a request (or to a JOIN); a reply is never answered, so no ping-pong. */
  | { type: typeof OVERLAY_MSG.neighbor; high: boolean; reply: boolean; addrs: string[] }
  /** alive: the sender stays up and may be asked again later (it only freed a slot). */
  | { type: typeof OVERLAY_MSG.disconnect; alive: boolean }
  | { type: typeof OVERLAY_MSG.shuffle; origin: PeerInfo; nodes: PeerInfo[]; ttl: number }
  | { type: typeof OVERLAY_MSG.shuffleReply; nodes: PeerInfo[] }
  /** round: hops from the origin so far. */
  | { type: typeof OVERLAY_MSG.gossip; id: Dot; round: number; payload: Uint8Array }
  | { type: typeof OVERLAY_MSG.ihave; entries: IHaveEntry[] }
  /** Make the link eager in the tree of id's origin (id.r) and, if `want`, send id's payload. */
  | { type: typeof OVERLAY_MSG.graft; id: Dot; round: number; want: boolean }
  /** Make the link lazy in the tree of writes by replica `origin`. */
  | { type: typeof OVERLAY_MSG.prune; origin: ReplicaId };

/** fetch: the sender announces instead of pushing (a large payload); graft it now, not after a timeout. */
export interface IHaveEntry {
  id: Dot;
  round: number;
  fetch: boolean;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const utf8enc = new TextEncoder();

export function encodeOverlay(m: OverlayMessage, w = new Writer(64)): Uint8Array {
  w.u8(m.type);
  switch (m.type) {
    case OVERLAY_MSG.join:
      writeAddrs(w, m.addrs);
      break;
    case OVERLAY_MSG.forwardJoin:
      writePeer(w, m.peer);
      w.u8(m.ttl);
      break;
    case OVERLAY_MSG.neighbor:
      w.u8((m.high ? 1 : 0) | (m.reply ? 2 : 0));
      writeAddrs(w, m.addrs);
      break;
    case OVERLAY_MSG.disconnect:
      w.u8(m.alive ? 1 : 0);
      break;
    case OVERLAY_MSG.shuffle:
      writePeer(w, m.origin);
      w.u8(m.ttl);
      writePeers(w, m.nodes);
      break;
    case OVERLAY_MSG.shuffleReply:
      writePeers(w, m.nodes);
      break;
    case OVERLAY_MSG.gossip:
      writeDot(w, m.id);
      w.varint(m.round);
      w.chunk(m.payload);
      break;
    case OVERLAY_MSG.ihave:
      w.varint(m.entries.length);
      for (const e of m.entries) {
        writeDot(w, e.id);
        w.varint(e.round);
        w.u8(e.fetch ? 1 : 0);
      }
      break;
    case OVERLAY_MSG.graft:
      writeDot(w, m.id);
      w.varint(m.round);
      w.u8(m.want ? 1 : 0);
      break;
    case OVERLAY_MSG.prune:
      w.bytes(Buffer.from(m.origin, 'hex'));
      break;
  }
  return w.take();
}

/** Is this frame type byte an overlay message (for a host that shares one stream with sync frames)? */
export function isOverlayType(t: number): boolean {
  return t >= OVERLAY_MSG.join && t <= OVERLAY_MSG.prune;
}

export function decodeOverlay(buf: Uint8Array): OverlayMessage {
  const r = new Reader(buf, 'overlay message');
  const type = r.u8();
  let m: OverlayMessage;
  switch (type) {
    case OVERLAY_MSG.join:
      m = { type, addrs: readAddrs(r) };
      break;
    case OVERLAY_MSG.forwardJoin:
      m = { type, peer: readPeer(r), ttl: readTtl(r) };
      break;
    case OVERLAY_MSG.neighbor: {
      const flags = r.u8();
      if (flags > 3) r.fail(`flags ${flags}`);
      m = { type, high: (flags & 1) === 1, reply: (flags & 2) === 2, addrs: readAddrs(r) };
      break;
    }
    case OVERLAY_MSG.disconnect:
      m = { type, alive: readBool(r) };
      break;
    case OVERLAY_MSG.shuffle: {
      const origin = readPeer(r);
      const ttl = readTtl(r);
      m = { type, origin, ttl, nodes: readPeers(r) };
      break;
    }
    case OVERLAY_MSG.shuffleReply:
      m = { type, nodes: readPeers(r) };
      break;
    case OVERLAY_MSG.gossip: {
      const id = readDot(r);
      const round = readRound(r);
      m = { type, id, round, payload: r.chunk(MAX_PAYLOAD_BYTES) };
      break;
    }
    case OVERLAY_MSG.ihave: {
      const n = r.varint();
      if (n > MAX_IHAVE) r.fail(`${n} ids exceed the limit ${MAX_IHAVE}`);
      const entries: IHaveEntry[] = [];
      for (let i = 0; i < n; i++) entries.push({ id: readDot(r), round: readRound(r), fetch: readBool(r) });
      m = { type, entries };
      break;
    }
    case OVERLAY_MSG.graft: {
      const id = readDot(r);
      const round = readRound(r);
      m = { type, id, round, want: readBool(r) };
      break;
    }
    case OVERLAY_MSG.prune:
      m = { type, origin: r.hex16() };
      break;
    default:
      return r.fail(`unknown overlay message type ${type}`);
  }
  r.end();
  return m;
}

function writeDot(w: Writer, d: Dot): void {
  w.bytes(Buffer.from(d.r, 'hex'));
  w.varint(d.c);
}

function readDot(r: Reader): Dot {
  const replica = r.hex16();
  const c = r.varint();
  if (c < 1) r.fail('counter 0');
  return { r: replica, c };
}

function readBool(r: Reader): boolean {
  const b = r.u8();
  if (b > 1) r.fail(`flag ${b}`);
  return b === 1;
}

function readTtl(r: Reader): number {
  const t = r.u8();
  if (t > MAX_TTL) r.fail(`ttl ${t} exceeds ${MAX_TTL}`);
  return t;
}

function readRound(r: Reader): number {
  const n = r.varint();
  if (n > MAX_ROUND) r.fail(`round ${n} exceeds ${MAX_ROUND}`);
  return n;
}

function writeText(w: Writer, s: string): void {
  w.chunk(utf8enc.encode(s));
}

function readText(r: Reader, max: number, what: string): string {
  const bytes = r.chunk(max);
  if (bytes.length === 0) r.fail(`empty ${what}`);
  try {
    return utf8.decode(bytes);
  } catch {
    r.fail(`${what} is not UTF-8`);
  }
}

/** A list with a one-byte count, refused when longer than `max`. */
function writeList<T>(w: Writer, items: readonly T[], one: (w: Writer, item: T) => void): void {
  w.u8(items.length);
  for (const x of items) one(w, x);
}

function readList<T>(r: Reader, max: number, what: string, one: (r: Reader) => T): T[] {
  const n = r.u8();
  if (n > max) r.fail(`${n} ${what} exceed the limit ${max}`);
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(one(r));
  return out;
}

function writeAddrs(w: Writer, addrs: readonly string[]): void {
  writeList(w, addrs, writeText);
}

function readAddrs(r: Reader): string[] {
  return readList(r, MAX_ADDRS, 'addresses', (r) => readText(r, MAX_ADDR_BYTES, 'address'));
}

function writePeer(w: Writer, p: PeerInfo): void {
  writeText(w, p.id);
  writeAddrs(w, p.addrs);
}

function readPeer(r: Reader): PeerInfo {
  return { id: readText(r, MAX_PEER_ID_BYTES, 'peer id'), addrs: readAddrs(r) };
}

function writePeers(w: Writer, peers: readonly PeerInfo[]): void {
  writeList(w, peers, writePeer);
}

function readPeers(r: Reader): PeerInfo[] {
  return readList(r, MAX_SHUFFLE_NODES, 'peers', readPeer);
}
