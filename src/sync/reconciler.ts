// The shell of a range reconciliation (core/reconcile.ts decides): one stream, opened by the
// puller with RECON_BEGIN. The server answers from one read snapshot (every list and state of the
// session, and the clock in RECON_HELLO, come from it) and a copy of its range index; the puller
// compares with its own, asks for the states it lacks and hands each batch to its caller, which
// applies them through the same checks as any delta or snapshot (heads bound counters, the store's
// merge or repair). Nothing here writes to the store: what a received state may change, and what
// a key the server did not list means, is the caller's decision (healer.ts, catch-up.ts).

import type { Clock } from '../core/clock.js';
import { chunkEntries, DEFAULT_DELTA_LIMITS, type DeltaEntry, type DeltaLimits } from '../core/delta.js';
import type { Head } from '../core/head.js';
import { RangeTree, ReconPuller, ReconServer, type DiffGroup, type FpGroup } from '../core/reconcile.js';
import { DecodeError } from '../errors.js';
import type { Keyspace } from '../store/keyspace.js';
import { listItems } from '../store/range-index.js';
import { stateHash } from '../store/state-hash.js';
import type { FrameWriter } from '../net/frames.js';
import { MSG } from './messages.js';
import { decodeRecon, encodeDiff, encodeFps, encodeNeed, encodeReconBegin, encodeReconHello, encodeReconStates, MAX_GROUPS, MAX_NEED, RECON, RECON_END_MESSAGE, type ReconHello, type ReconMessage } from './recon-messages.js';

/** What a session moves frames over (the replicator gives a sync stream). */
export interface ReconIo {
  write(frame: Uint8Array): Promise<void>;
  flush(): Promise<void>;
  /** The next frame; undefined at the end of the stream. */
  next(): Promise<Uint8Array | undefined>;
  close(): Promise<void>;
}

/** A sync stream's frames and writer as a ReconIo. */
export function reconIo(frames: AsyncGenerator<Uint8Array>, writer: FrameWriter): ReconIo {
  return {
    write: (f) => writer.write(f),
    flush: () => writer.flush(),
    next: async () => {
      const r = await frames.next();
      return r.done === true ? undefined : r.value;
    },
    close: () => writer.close(),
  };
}

/** How far ahead of this node's clock a puller's cutoff may be (as for a peer's digest: keyspace.ts). */
const MAX_AHEAD_MS = 30_000;
/** RECON_FPS frames a server answers in one session: an honest puller sends at most 7 (four rounds, the deepest in frames of 1,024). */
const MAX_FPS_FRAMES = 16;
/** Keys a server may send beyond twice the puller's count (as healer.ts bounds a snapshot). */
const SLACK_ENTRIES = 100_000;
/** The most keys a peer's RECON_HELLO may raise that bound to. */
const MAX_PEER_KEYS = 10_000_000;

/** Serves one session; `first` is the RECON_BEGIN frame. Resolves when the puller ends it. */
export async function serveRecon(ks: Keyspace, io: ReconIo, first: Uint8Array, limits: DeltaLimits = DEFAULT_DELTA_LIMITS, now = Date.now()): Promise<void> {
  const begin = decodeRecon(first);
  if (begin.type !== RECON.begin) throw new DecodeError(`a reconciliation starts with RECON_BEGIN, not type ${begin.type}`);
  if (begin.at > now + MAX_AHEAD_MS) throw new DecodeError('a reconciliation cutoff too far ahead of this node\'s clock');
  const view = await ks.rangeView(begin.at);
  if (view === null) throw new DecodeError('writes kept landing: no range index now; try again');
  try {
    // a catch-up takes the clock: it needs the heads of what the clock knows past its own
    const heads = begin.since === undefined ? [] : headsPast(ks, view.summary.clock, begin.since);
    await io.write(encodeReconHello({ ...view.summary, heads }));
    if (begin.since !== undefined) {
      for (const chunk of ks.delta(begin.since, limits)) if (chunk.entries.length > 0) await io.write(encodeReconStates(chunk.heads ?? [], chunk.entries));
      await io.write(RECON_END_MESSAGE);
    }
    const server = new ReconServer(RangeTree.fromLeaves(view.index.words, view.index.counts, begin.word));
    const byHash = new Map<number, Uint8Array[]>();
    let fpsFrames = 0;
    for (;;) {
      await io.flush();
      const frame = await io.next();
      if (frame === undefined) return;
      const m = decodeRecon(frame);
      if (m.type === RECON.end) return await io.close();
      if (m.type === RECON.fps) {
        if (++fpsFrames > MAX_FPS_FRAMES) throw new DecodeError(`more than ${MAX_FPS_FRAMES} RECON_FPS frames in one session`);
        const diffs = server.answer(m.groups, (nodes) =>
          listItems(view.snap, nodes, begin.at, begin.word).map((items) => {
            for (const it of items) byHash.set(it.hash, [...(byHash.get(it.hash) ?? []), it.key]);
            return Uint32Array.from(items, (it) => it.hash);
          }),
        );
        await io.write(encodeDiff(diffs));
      } else if (m.type === RECON.need) {
        server.need(m.hashes);
        const entries: DeltaEntry[] = [];
        for (const h of m.hashes) {
          for (const key of byHash.get(h) ?? []) {
            const state = view.snap.getState(key);
            if (state !== undefined) entries.push({ key, state });
          }
        }
        for (const chunk of chunkEntries(entries, limits)) {
          await io.write(encodeReconStates(ks.headsFor({ entries: chunk.entries, claim: chunk.claim }, null), chunk.entries));
        }
        await io.write(RECON_END_MESSAGE);
      } else {
        throw new DecodeError(`unexpected message type ${m.type} in a reconciliation`);
      }
    }
  } finally {
    view.snap.close();
  }
}

export interface PullOptions {
  /** The digest cutoff to fingerprint at (this node's now). */
  at: number;
  /** Which hash word fingerprints (0-3): random per session, so a collision does not repeat. */
  word: number;
  /** First the states of keys holding a dot this clock lacks (a catch-up: this node's clock). */
  since?: Clock;
  /** Applies a batch of the server's states (with the heads they need); called in order. */
  apply(entries: DeltaEntry[], heads: Head[], from: ReconHello): Promise<void>;
  limits?: DeltaLimits;
}

export interface PullResult {
  /** The server's snapshot clock, GC frontier and heads past `since` (RECON_HELLO): what its lists and states reflect. */
  hello: ReconHello;
  /** This node's keys whose state the server did not list and sent no state for: it holds none, or another. */
  absent: Uint8Array[];
  /** States received (since-step and asked for). */
  received: number;
  rounds: number;
}

/** Pulls one session over `io` (RECON_BEGIN not yet sent); 'busy' when the server is bootstrapping or repairing. */
export async function pullRecon(ks: Keyspace, io: ReconIo, o: PullOptions): Promise<PullResult | 'busy'> {
  await io.write(encodeReconBegin({ at: o.at, word: o.word, ...(o.since === undefined ? {} : { since: o.since }) }));
  let hello: ReconHello | undefined;
  let received = 0;
  let bound = 0;
  const take = async (entries: DeltaEntry[], heads: Head[]): Promise<void> => {
    received += entries.length;
    if (received > bound) throw new DecodeError(`the peer sent more than ${bound} states in one reconciliation`);
    await o.apply(entries, heads, hello!);
  };
  /** RECON_HELLO, or BUSY (undefined). */
  const greeting = async (): Promise<ReconHello | undefined> => {
    const first = await io.next();
    if (first?.[0] === MSG.busy) return undefined;
    const m = decodeRecon(first ?? Uint8Array.of(RECON.end));
    if (m.type !== RECON.hello) throw new DecodeError(`expected RECON_HELLO, got type ${m.type}`);
    // the peer's key count raises the bound (a catch-up may lack many keys), up to what a snapshot could send
    bound = 2 * Math.max(ks.summary().keys, Math.min(m.keys, MAX_PEER_KEYS)) + SLACK_ENTRIES;
    return m;
  };
  if (o.since !== undefined) {
    // the states newer than this node's clock come first, and are applied before it fingerprints
    await io.flush();
    if ((hello = await greeting()) === undefined) return await io.close().then(() => 'busy' as const);
    for (let m = await next(io); m.type !== RECON.end; m = await next(io)) {
      if (m.type !== RECON.states) throw new DecodeError(`expected RECON_STATES, got type ${m.type}`);
      await take(m.entries, m.heads);
    }
  }
  const view = await ks.rangeView(o.at);
  if (view === null) throw new DecodeError('writes kept landing here: no range index now; try again');
  try {
    const puller = new ReconPuller<Uint8Array>(RangeTree.fromLeaves(view.index.words, view.index.counts, o.word), 2 * view.summary.keys + SLACK_ENTRIES);
    const candidates = new Map<string, Uint8Array>();
    let groups: FpGroup[] = puller.start();
    let need: number[] = [];
    while (groups.length > 0 || need.length > 0) {
      const fps = slices(groups, MAX_GROUPS);
      const needs = slices(need, MAX_NEED);
      for (const g of fps) await io.write(encodeFps(g));
      for (const n of needs) await io.write(encodeNeed(n));
      await io.flush();
      // without a since-step the first fingerprints went with RECON_BEGIN: one round trip less
      if (hello === undefined && (hello = await greeting()) === undefined) return await io.close().then(() => 'busy' as const);
      const diffs: DiffGroup[] = [];
      for (let i = 0; i < fps.length; i++) diffs.push(...(await expect(io, RECON.diff)).diffs);
      for (let i = 0; i < needs.length; i++) {
        for (let m = await next(io); m.type !== RECON.end; m = await next(io)) {
          if (m.type !== RECON.states) throw new DecodeError(`expected RECON_STATES, got type ${m.type}`);
          for (const e of m.entries) {
            const h = stateHash(e.key, e.state, o.at);
            if (h === null || !puller.accept(h[o.word]!)) throw new DecodeError('the peer sent a state it was not asked for');
            candidates.delete(Buffer.from(e.key).toString('latin1'));
          }
          await take(m.entries, m.heads);
        }
      }
      if (groups.length === 0) break;
      const step = puller.onDiff(diffs, (nodes) => listItems(view.snap, nodes, o.at, o.word));
      for (const k of step.candidates) candidates.set(Buffer.from(k).toString('latin1'), k);
      groups = step.next;
      need = step.need;
    }
    await io.write(RECON_END_MESSAGE);
    await io.close();
    return { hello: hello!, absent: [...candidates.values()], received, rounds: puller.rounds };
  } finally {
    view.snap.close();
  }
}

function headsPast(ks: Keyspace, clock: Clock, since: Clock): Head[] {
  return clock.replicas().flatMap((r) => {
    const h = clock.max(r) > since.max(r) ? ks.headOf(r) : undefined;
    return h === undefined ? [] : [h];
  });
}

async function next(io: ReconIo): Promise<ReconMessage> {
  const frame = await io.next();
  if (frame === undefined) throw new DecodeError('the reconciliation stream ended early');
  return decodeRecon(frame);
}

async function expect<T extends ReconMessage['type']>(io: ReconIo, type: T): Promise<Extract<ReconMessage, { type: T }>> {
  const m = await next(io);
  if (m.type !== type) throw new DecodeError(`expected reconciliation message ${type}, got ${m.type}`);
  return m as Extract<ReconMessage, { type: T }>;
}

function slices<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
