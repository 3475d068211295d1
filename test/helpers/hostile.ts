// A hostile peer for tests: a real libp2p node built from the project's own dependencies, holding
// the fleet's swarm key (a member), that sends raw frames of the sync protocol, or answers it with lies.
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach } from 'vitest';
import { Writer } from '../../src/core/bytes.js';
import { Clock } from '../../src/core/clock.js';
import type { DeltaEntry } from '../../src/core/delta.js';
import type { Head } from '../../src/core/head.js';
import { FrameWriter, readFrames } from '../../src/net/frames.js';
import { createNetwork, type Network } from '../../src/net/node.js';
import {
  decodeMessage,
  encodeDigest,
  encodePeers,
  encodeSnapBegin,
  encodeSnapChunk,
  END_MESSAGE,
  MSG,
  NEED_FULL_MESSAGE,
  SNAP_END_MESSAGE,
  SYNC_PROTOCOL,
  VERIFY_MESSAGE,
  type DigestMessage,
} from '../../src/sync/messages.js';
import { LEAF_LEVEL, leafSpan, levelOf, RangeTree } from '../../src/core/reconcile.js';
import { leafOf } from '../../src/store/range-index.js';
import { stateHash } from '../../src/store/state-hash.js';
import { decodeRecon, encodeDiff, encodeReconHello, encodeReconStates, isReconType, RECON, RECON_END_MESSAGE } from '../../src/sync/recon-messages.js';
import { Fleet } from './daemons.js';

/** One length-prefixed frame holding `msg`, as the sync protocol sends it. */
export function frame(msg: Uint8Array): Uint8Array {
  const w = new Writer(msg.length + 8);
  w.chunk(msg);
  return w.finish();
}

/** A new node that may join `fleet`'s network (the caller stops it). */
export async function hostilePeer(fleet: Fleet): Promise<Network> {
  return createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], ...fleet.networkOptions() });
}

/** What a lying member answers: every message is built when asked, so a test can change its story. */
export interface Story {
  /** The DIGEST it answers an exchange or a VERIFY with; `theirs` is the asker's clock when it sent one. */
  digest(theirs: Clock | null): Parameters<typeof encodeDigest>[0];
  /** The snapshot it serves: the clock, key count and heads of SNAP_BEGIN, then the chunks. */
  snapshot(): { clock: Clock; keys: number; chunks: DeltaEntry[][]; heads?: Head[]; frontier?: Clock };
  /** Addresses it relays (PEERS, once per connection, as members do). */
  peers?: () => string[];
  /**
   * How it answers a range reconciliation (its states are the snapshot's): 'split' (the default)
   * says every range differs down to the leaves and lists its states' hashes there; 'random' says
   * random ranges differ; 'huge' lists 65,536 random hashes for every range.
   */
  recon?: 'split' | 'random' | 'huge';
}

/**
 * Makes `h` answer the sync protocol with `story`: exchanges (its DIGEST, no delta, and it reads
 * what the asker sends until END), VERIFY queries and snapshot requests. Counts what it was asked.
 */
export async function tellLies(h: Network, story: Story): Promise<{ asked: Record<'digest' | 'verify' | 'snapshot' | 'recon', number>; bytes: Bytes }> {
  const asked = { digest: 0, verify: 0, snapshot: 0, recon: 0 };
  const bytes = { sent: 0, received: 0 };
  const told = new Set<string>();
  await h.handle(SYNC_PROTOCOL, (stream, connection) => {
    if (story.peers !== undefined && !told.has(connection.id)) {
      told.add(connection.id);
      void connection
        .newStream(SYNC_PROTOCOL)
        .then(async (s) => {
          const w = new FrameWriter(s);
          await w.write(encodePeers(story.peers!()));
          await w.close();
        })
        .catch(() => undefined);
    }
    void answer(stream, story, asked, bytes).catch(() => stream.abort(new Error('hostile peer done')));
  });
  return { asked, bytes };
}

/** Frame bytes a hostile peer sent and received (for amplification: what honest nodes spent on it). */
export interface Bytes {
  sent: number;
  received: number;
}

/** A FrameWriter that adds what it writes to `bytes.sent`. */
class CountedWriter extends FrameWriter {
  constructor(
    stream: Stream,
    private readonly bytes: Bytes,
  ) {
    super(stream);
  }

  override write(frame: Uint8Array): Promise<void> {
    this.bytes.sent += frame.length;
    return super.write(frame);
  }
}

async function answer(stream: Stream, story: Story, asked: Record<'digest' | 'verify' | 'snapshot' | 'recon', number>, bytes: Bytes): Promise<void> {
  const frames = readFrames(stream, { maxFrameBytes: 64 << 20, onBytes: (n) => (bytes.received += n) });
  const w = new CountedWriter(stream, bytes);
  let first = await frames.next();
  if (first.done === true) return;
  if (isReconType(first.value[0]!)) {
    asked.recon++;
    await lieInRecon(first.value, frames, w, story);
    return void (await w.close());
  }
  let m = decodeMessage(first.value);
  if (m.type === MSG.peers) return await w.close();
  if (m.type === MSG.digestDelta) {
    // it keeps no bases: every DIGEST against one is asked for whole
    await w.write(NEED_FULL_MESSAGE);
    await w.flush();
    first = await frames.next();
    if (first.done === true) return;
    m = decodeMessage(first.value);
  }
  if (m.type === MSG.verify) {
    asked.verify++;
    await w.write(encodeDigest(story.digest(null)));
  } else if (m.type === MSG.digest) {
    asked.digest++;
    await w.write(encodeDigest(story.digest(m.clock)));
    await w.write(END_MESSAGE);
    await w.flush();
    for await (const f of frames) if (decodeMessage(f).type === MSG.end) break;
  } else if (m.type === MSG.snapRequest) {
    asked.snapshot++;
    const snap = story.snapshot();
    await w.write(encodeSnapBegin(snap.clock, snap.keys, snap.heads ?? [], snap.frontier));
    for (const chunk of snap.chunks) await w.write(encodeSnapChunk(chunk));
    await w.write(SNAP_END_MESSAGE);
  } else {
    return void stream.abort(new Error('not part of the story'));
  }
  await w.close();
}

/** Answers a reconciliation with the story's lies (Story.recon), serving the snapshot's states for any hash asked. */
async function lieInRecon(first: Uint8Array, frames: AsyncGenerator<Uint8Array>, w: FrameWriter, story: Story): Promise<void> {
  const begin = decodeRecon(first);
  if (begin.type !== RECON.begin) return;
  const snap = story.snapshot();
  const states = snap.chunks.flat();
  await w.write(encodeReconHello({ clock: snap.clock, frontier: snap.frontier ?? Clock.empty(), keys: snap.keys, heads: snap.heads ?? [] }));
  if (begin.since !== undefined) {
    for (const chunk of snap.chunks) await w.write(encodeReconStates(snap.heads ?? [], chunk));
    await w.write(RECON_END_MESSAGE);
  }
  const hashOf = (e: DeltaEntry) => stateHash(e.key, e.state, begin.at)?.[begin.word] ?? 0;
  // its states' hashes by leaf, once: a filter over every state per listed leaf (65,536 of them)
  // blocked this test process for seconds, and tests that time the daemon from here saw it as the daemon's
  const byLeaf = new Map<number, number[]>();
  for (const e of states) {
    const leaf = leafOf(e.key);
    byLeaf.set(leaf, [...(byLeaf.get(leaf) ?? []), hashOf(e)]);
  }
  const mode = story.recon ?? 'split';
  for await (const f of frames) {
    const m = decodeRecon(f);
    if (m.type === RECON.end) return;
    if (m.type === RECON.need) {
      const want = new Set(m.hashes);
      await w.write(encodeReconStates(snap.heads ?? [], states.filter((e) => want.has(hashOf(e)))));
      await w.write(RECON_END_MESSAGE);
    } else if (m.type === RECON.fps) {
      const diffs = m.groups.map((g) => {
        const kids = RangeTree.children(g.parent);
        const atLeaves = levelOf(kids[0]!) === LEAF_LEVEL;
        const differ = mode === 'random' ? Math.floor(Math.random() * 0x10000) : 0xffff;
        const listed = atLeaves || mode === 'huge' ? differ : 0;
        const lists: Uint32Array[] = [];
        kids.forEach((id, j) => {
          if ((listed & (1 << j)) === 0) return;
          if (mode === 'huge') return void lists.push(Uint32Array.from({ length: 65_536 }, () => Math.floor(Math.random() * 2 ** 32)));
          const { from, to } = leafSpan(id);
          const hashes: number[] = [];
          for (let leaf = from; leaf < to; leaf++) hashes.push(...(byLeaf.get(leaf) ?? []));
          lists.push(Uint32Array.from(hashes));
        });
        return { differ, listed, lists };
      });
      await w.write(encodeDiff(diffs));
    }
    await w.flush();
  }
}

/** The DIGEST `target` answers a VERIFY with (its clock, digest and peers), asked from `h`. */
export async function digestOf(h: Network, target: string): Promise<DigestMessage> {
  const stream = await h.dialProtocol(multiaddr(target), SYNC_PROTOCOL);
  const w = new FrameWriter(stream);
  await w.write(VERIFY_MESSAGE);
  await w.flush();
  for await (const f of readFrames(stream, { maxFrameBytes: 64 << 20 })) {
    const m = decodeMessage(f);
    if (m.type === MSG.digest) return m;
  }
  throw new Error(`no DIGEST from ${target}`);
}

/**
 * Sends one framed PUSH from `h` to `target`: 'acked' when the daemon acknowledged (applied) it,
 * 'refused' when it closed or reset the stream instead.
 */
export async function pushFrom(h: Network, target: string, push: Uint8Array): Promise<'acked' | 'refused'> {
  const stream = await h.dialProtocol(multiaddr(target), SYNC_PROTOCOL);
  stream.send(push);
  try {
    for await (const chunk of stream) if (chunk.byteLength > 0) return 'acked';
  } catch {
    // reset: refused
  }
  return 'refused';
}

/**
 * The signed heads `target` sends with a delta, asked for as an honest peer with nothing would (an
 * exchange from an empty clock): what a member holds of other replicas to make its lies believable.
 */
export async function headsOf(h: Network, target: string, replicaId = 'ab'.repeat(16)): Promise<Head[]> {
  return (await exchangeWith(h, target, encodeDigest({ replicaId, digest: new Uint8Array(16), clock: Clock.empty(), forgotten: [] }))).heads;
}

/**
 * A sync exchange `h` starts with `target`, opening with `digest` (a DIGEST message) and sending no
 * delta: the target's DIGEST, and the entries and heads of the deltas it sends back.
 */
export async function exchangeWith(
  h: Network,
  target: string,
  digest: Uint8Array,
  bytes: Bytes = { sent: 0, received: 0 },
): Promise<{ digest: DigestMessage; entries: DeltaEntry[]; heads: Head[] }> {
  const stream = await h.dialProtocol(multiaddr(target), SYNC_PROTOCOL);
  const w = new CountedWriter(stream, bytes);
  await w.write(digest);
  await w.write(END_MESSAGE);
  await w.flush();
  const heads: Head[] = [];
  const entries: DeltaEntry[] = [];
  let theirs: DigestMessage | undefined;
  for await (const f of readFrames(stream, { maxFrameBytes: 64 << 20, onBytes: (n) => (bytes.received += n) })) {
    const m = decodeMessage(f);
    if (m.type === MSG.digest) theirs = m;
    if (m.type === MSG.delta) {
      heads.push(...(m.heads ?? []));
      entries.push(...m.entries);
    }
    if (m.type === MSG.end) break;
  }
  await w.close().catch(() => {});
  if (theirs === undefined) throw new Error(`no DIGEST from ${target}`);
  return { digest: theirs, entries, heads };
}

/**
 * A test file's fleet and its hostile peer (made on first use), both stopped after each test; a
 * failed test's report gets the daemons' last log lines.
 */
export function withHostile(logLines = 40): { fleet: Fleet; hostile: () => Promise<Network> } {
  const fleet = new Fleet();
  let peer: Promise<Network> | undefined;
  afterEach(async (ctx) => {
    if (ctx.task.result?.state === 'fail') console.error(fleet.logs(logLines));
    await (await peer?.catch(() => undefined))?.stop();
    peer = undefined;
    await fleet.cleanup();
  });
  return { fleet, hostile: () => (peer ??= hostilePeer(fleet)) };
}
