// Whole clusters in one process: 2 to 5 keyspaces on the in-memory backend, random histories of
// puts and deletes (some with stale contexts), and deltas cut into chunks that are delivered
// reordered, duplicated, or dropped (and later retried by the next sync). The checks:
//  - after any delivery, a receiver's clock never covers a dot that is live at the sender unless the
//    receiver's state for that key reflects it ("never claim a dot whose key was not sent");
//  - once every replica has synced with every other, digests, clocks and reads are equal;
//  - every write survives unless another write's context covered it; concurrent writes are siblings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKeyState } from '../../src/core/codec.js';
import type { DeltaChunk } from '../../src/core/delta.js';
import { decodeToken } from '../../src/core/token.js';
import { vvCovers, type VersionVector } from '../../src/core/version-vector.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';

const KEYS = ['a', 'b', 'c', 'd', 'é/ü', 'zz'];

type Cmd =
  | { t: 'put'; at: number; key: number; stale: boolean }
  | { t: 'del'; at: number; key: number }
  | { t: 'sync'; from: number; to: number; maxEntries: number; order: number[]; drop: boolean[]; dup: boolean[] };

const cmd = (n: number): fc.Arbitrary<Cmd> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ t: fc.constant('put' as const), at: fc.nat(n - 1), key: fc.nat(KEYS.length - 1), stale: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant('del' as const), at: fc.nat(n - 1), key: fc.nat(KEYS.length - 1) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        t: fc.constant('sync' as const),
        from: fc.nat(n - 1),
        to: fc.nat(n - 1),
        maxEntries: fc.integer({ min: 1, max: 4 }),
        order: fc.array(fc.nat(1000), { maxLength: 12 }),
        drop: fc.array(fc.boolean(), { maxLength: 12 }),
        dup: fc.array(fc.boolean(), { maxLength: 12 }),
      }),
    },
  );

interface Write {
  key: string;
  r: string;
  c: number;
  /** The context the write superseded (what its writer had read). */
  ctx: VersionVector;
}

async function cluster(n: number) {
  const nodes: Keyspace[] = [];
  for (let i = 0; i < n; i++) nodes.push(await Keyspace.open(new MemoryBackend(), { now: () => 1_000 }));
  return nodes;
}

/** Every live dot at `sender` that `receiver`'s clock covers must be reflected in its key state. */
function checkClaims(sender: Keyspace, receiver: Keyspace): void {
  const clock = receiver.summary().clock;
  const snap = sender.snapshot();
  try {
    for (const { key, state } of snap.entries()) {
      const k = Buffer.from(key).toString('utf8');
      for (const s of decodeKeyState(state).sibs) {
        if (!clock.covers(s.r, s.c)) continue;
        const ctx = decodeToken(receiver.contextOf(k));
        if (!vvCovers(ctx, s)) throw new Error(`receiver claims ${s.r.slice(0, 4)}:${s.c} of key ${k} without having it`);
      }
    }
  } finally {
    snap.close();
  }
}

async function sync(from: Keyspace, to: Keyspace, c: Extract<Cmd, { t: 'sync' }> | null): Promise<void> {
  const chunks = [...from.delta(to.summary().clock, { maxEntries: c?.maxEntries ?? 64, maxBytes: 1 << 20 })];
  let deliveries: DeltaChunk[] = chunks;
  if (c !== null) {
    deliveries = [];
    chunks.forEach((ch, i) => {
      if (c.drop[i]) return;
      deliveries.push(ch);
      if (c.dup[i]) deliveries.push(ch);
    });
    const keys = deliveries.map((_, i) => c.order[i] ?? i);
    deliveries = deliveries.map((ch, i) => [keys[i]!, ch] as const).sort((a, b) => a[0] - b[0]).map(([, ch]) => ch);
  }
  for (const ch of deliveries) {
    await to.applyDelta(ch);
    checkClaims(from, to);
  }
}

async function syncAll(nodes: Keyspace[]): Promise<void> {
  for (let round = 0; round < 2; round++) {
    for (const a of nodes) for (const b of nodes) if (a !== b) await sync(a, b, null);
  }
}

describe('replicated keyspace, as a cluster (property)', () => {
  it('converges with no lost write under reordered, duplicated, dropped and cut deltas', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 5 }).chain((n) => fc.tuple(fc.constant(n), fc.array(cmd(n), { minLength: 1, maxLength: 40 }))),
        async ([n, cmds]) => {
          const nodes = await cluster(n);
          const writes: Write[] = [];
          const staleCtx = new Map<string, string>(); // node:key -> a context token read earlier
          let v = 0;
          for (const c of cmds) {
            if (c.t === 'sync') {
              if (c.from !== c.to) await sync(nodes[c.from]!, nodes[c.to]!, c);
              continue;
            }
            const node = nodes[c.at]!;
            const key = KEYS[c.key]!;
            const slot = `${c.at}:${key}`;
            const fresh = node.contextOf(key);
            const token = c.t === 'put' && c.stale && staleCtx.has(slot) ? staleCtx.get(slot)! : fresh;
            staleCtx.set(slot, fresh);
            const res =
              c.t === 'put'
                ? await node.put(key, Buffer.from(`v${v++}`), { context: token })
                : await node.del(key, { context: token });
            writes.push({ key, r: res.dot.r, c: res.dot.c, ctx: decodeToken(token) });
          }

          await syncAll(nodes);

          const first = nodes[0]!.summary();
          for (const node of nodes) {
            const s = node.summary();
            expect(s.clock.equals(first.clock)).toBe(true);
            expect(s.digest).toBe(first.digest);
            expect(s.keys).toBe(first.keys);
            expect(node.recompute()).toMatchObject({ digest: s.digest, keys: s.keys, unreadable: 0 });
          }
          for (const key of KEYS) {
            // oracle: the writes to this key that no other write's context covers
            const mine = writes.filter((w) => w.key === key);
            const survivors = mine
              .filter((w) => !mine.some((o) => o !== w && vvCovers(o.ctx, w)))
              .map((w) => `${w.r}:${w.c}`)
              .sort();
            const shown = (r: ReturnType<Keyspace['read']>) =>
              r === undefined ? 'absent' : r.value === null ? 'deleted' : Buffer.from(r.value).toString();
            const reads = nodes.map((node) => node.read(key));
            for (const r of reads) {
              const sibs = (r?.siblings ?? []).map((s) => `${s.replica}:${s.counter}`).sort();
              expect(sibs).toEqual(survivors);
              expect(shown(r)).toBe(shown(reads[0]));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the claim check catches a chunk that claims more than it carries', async () => {
    // Guards the guard: a claim of the sender's whole clock on a cut chunk must be detected.
    const [a, b] = await cluster(2);
    for (let i = 0; i < 6; i++) await a!.put(`k${i}`, Buffer.from('x'));
    const chunks = [...a!.delta(b!.summary().clock, { maxEntries: 2, maxBytes: 1 << 20 })];
    expect(chunks.length).toBe(3);
    await b!.applyDelta(chunks[1]!);
    expect(() => checkClaims(a!, b!)).not.toThrow();
    expect(b!.summary().clock.covers(a!.replicaId, 1)).toBe(false);
    await b!.applyDelta({ entries: chunks[2]!.entries, claim: a!.summary().clock });
    expect(() => checkClaims(a!, b!)).toThrow(/claims/);
  });

  it('a lost chunk leaves a gap that the next sync fills', async () => {
    const [a, b] = await cluster(2);
    for (let i = 0; i < 9; i++) await a!.put(`k${i}`, Buffer.from(`v${i}`));
    const chunks = [...a!.delta(b!.summary().clock, { maxEntries: 3, maxBytes: 1 << 20 })];
    await b!.applyDelta(chunks[0]!);
    await b!.applyDelta(chunks[2]!);
    const gap = b!.summary().clock;
    expect(gap.base(a!.replicaId)).toBe(3);
    expect(gap.covers(a!.replicaId, 8)).toBe(true);
    expect(b!.get('k4')).toBeUndefined();
    const retry = [...a!.delta(gap, { maxEntries: 100, maxBytes: 1 << 20 })];
    expect(retry.flatMap((c) => c.entries).length).toBe(3); // only the missing keys travel again
    for (const c of retry) await b!.applyDelta(c);
    expect(b!.summary().digest).toBe(a!.summary().digest);
  });
});
