// The contract every storage backend passes (LMDB and memory run the same suite).
import { expect, it } from 'vitest';
import { dotKey, replicaToBytes } from '../../src/core/codec.js';
import type { Backend } from '../../src/store/backend.js';

const R1 = '1'.repeat(32);
const R2 = '2'.repeat(32);
const b = (s: string) => Buffer.from(s, 'utf8');
const text = (u: Uint8Array | undefined) => (u === undefined ? undefined : Buffer.from(u).toString('utf8'));

export function backendContract(make: () => Promise<{ backend: Backend; cleanup: () => Promise<void> }>): void {
  const withBackend = (fn: (be: Backend) => Promise<void>) => async () => {
    const { backend, cleanup } = await make();
    try {
      await fn(backend);
    } finally {
      await cleanup();
    }
  };

  it(
    'stores states, dots and meta, readable after the commit',
    withBackend(async (be) => {
      await be.write((w) => {
        w.putState(b('k1'), b('s1'));
        w.putDot(dotKey(replicaToBytes(R1), 1), b('k1'));
        w.putMeta('m', b('meta'));
      }, true);
      expect(text(be.getState(b('k1')))).toBe('s1');
      expect(text(be.getMeta('m'))).toBe('meta');
      expect(be.getState(b('nope'))).toBeUndefined();
    }),
  );

  it(
    'removes a state, and a snapshot opened before still sees it',
    withBackend(async (be) => {
      await be.write((w) => ['a', 'b'].forEach((k) => w.putState(b(k), b(`v-${k}`))), true);
      const before = be.openSnapshot();
      await be.write((w) => w.delState(b('a')), true);
      expect(be.getState(b('a'))).toBeUndefined();
      expect([...be.openSnapshot().states()].map((e) => text(e.key))).toEqual(['b']);
      expect(text(before.getState(b('a')))).toBe('v-a');
      before.close();
    }),
  );

  it(
    'reads its own writes inside one transaction',
    withBackend(async (be) => {
      const seen = await be.write((w) => {
        w.putState(b('k'), b('v'));
        return text(w.getState(b('k')));
      }, false);
      expect(seen).toBe('v');
    }),
  );

  it(
    'lists dots of one replica above a counter, in counter order',
    withBackend(async (be) => {
      await be.write((w) => {
        for (const c of [300, 2, 70000, 1, 5]) w.putDot(dotKey(replicaToBytes(R1), c), b(`a${c}`));
        w.putDot(dotKey(replicaToBytes(R2), 3), b('other'));
        w.delDot(dotKey(replicaToBytes(R1), 5));
      }, false);
      const snap = be.openSnapshot();
      expect([...snap.dotsAfter(R1, 1)].map((d) => [d.c, text(d.key)])).toEqual([
        [2, 'a2'],
        [300, 'a300'],
        [70000, 'a70000'],
      ]);
      expect([...snap.dotsAfter(R2, 0)].map((d) => d.c)).toEqual([3]);
      expect([...snap.dotsAfter('3'.repeat(32), 0)]).toEqual([]);
      snap.close();
    }),
  );

  it(
    'iterates states in UTF-8 byte order from a start key',
    withBackend(async (be) => {
      const keys = ['b', 'a', 'é', 'z', 'ab', '\u{1F600}', '\uFFFD'];
      await be.write((w) => keys.forEach((k) => w.putState(b(k), b(`v-${k}`))), false);
      const snap = be.openSnapshot();
      const sorted = [...keys].sort((x, y) => Buffer.compare(b(x), b(y)));
      expect([...snap.states()].map((e) => text(e.key))).toEqual(sorted);
      expect([...snap.states(b('ab'))].map((e) => text(e.key))).toEqual(sorted.slice(sorted.indexOf('ab')));
      expect([...snap.states(b('ab'), true)].map((e) => text(e.key))).toEqual(sorted.slice(sorted.indexOf('ab') + 1));
      snap.close();
    }),
  );

  it(
    'visits the same states as it iterates, and stops when the visitor says so or throws',
    withBackend(async (be) => {
      const keys = ['b', 'a', 'é', 'z', 'ab', '\u{1F600}'];
      await be.write((w) => keys.forEach((k) => w.putState(b(k), b(`v-${k}`))), false);
      const snap = be.openSnapshot();
      const visited = (from: Uint8Array | undefined, exclusive: boolean, stopAfter = Infinity) => {
        const seen: string[] = [];
        snap.visitStates(from, exclusive, (key, state) => {
          seen.push(`${text(key)}=${text(state)}`);
          return seen.length < stopAfter;
        });
        return seen;
      };
      const iterated = (from?: Uint8Array, exclusive = false) => [...snap.states(from, exclusive)].map((e) => `${text(e.key)}=${text(e.state)}`);
      expect(visited(undefined, false)).toEqual(iterated());
      expect(visited(b('ab'), false)).toEqual(iterated(b('ab')));
      expect(visited(b('ab'), true)).toEqual(iterated(b('ab'), true));
      expect(visited(undefined, false, 2)).toEqual(iterated().slice(0, 2));
      expect(() =>
        snap.visitStates(undefined, false, () => {
          throw new Error('visitor failed');
        }),
      ).toThrow('visitor failed');
      expect(visited(b('b'), false)).toEqual(iterated(b('b'))); // the snapshot still reads
      snap.close();
    }),
  );

  it(
    'keeps every key whatever the order of the puts (ascending runs, descending, interleaved, across transactions)',
    withBackend(async (be) => {
      const k = (i: number) => b(`key:${String(i).padStart(5, '0')}`);
      const orders = [
        Array.from({ length: 300 }, (_, i) => i * 2), // ascending, beyond everything
        Array.from({ length: 300 }, (_, i) => 599 - i * 2), // descending, between the earlier keys
        [1000, 700, 1001, 650, 1002, 601, 0], // above, below, above, ... and a rewrite of the first
      ];
      for (const order of orders) {
        await be.write((w) => {
          for (const i of order) {
            // a key written earlier is found; one never written is absent
            const before = text(w.getState(k(i)));
            expect(before === undefined || before === `v${i}`).toBe(true);
            w.putState(k(i), b(`v${i}`));
            w.putDot(dotKey(replicaToBytes(R1), 10_000 - i), k(i));
            expect(text(w.getState(k(i)))).toBe(`v${i}`);
          }
        }, false);
      }
      const all = [...new Set(orders.flat())].sort((x, y) => x - y);
      const snap = be.openSnapshot();
      expect([...snap.states()].map((e) => `${text(e.key)}=${text(e.state)}`)).toEqual(all.map((i) => `${text(k(i))}=v${i}`));
      expect([...snap.dotsAfter(R1, 0)].map((d) => d.c)).toEqual(all.map((i) => 10_000 - i).reverse());
      snap.close();
      for (const i of all) expect(text(be.getState(k(i)))).toBe(`v${i}`);
    }),
  );

  it(
    'a snapshot reads keys right in any order: ascending runs, skipped and absent keys, going back',
    withBackend(async (be) => {
      const k = (i: number) => b(`k${String(i).padStart(4, '0')}`);
      await be.write((w) => {
        for (let i = 0; i < 200; i += 2) w.putState(k(i), b(`v${i}`)); // even keys only
      }, false);
      const snap = be.openSnapshot();
      const order = [
        ...Array.from({ length: 40 }, (_, i) => i * 2), // consecutive stored keys
        ...Array.from({ length: 30 }, (_, i) => 80 + i), // every key: absent ones between
        150, 152, 154, 10, 12, 14, 16, 199, 198, 196, 0, 2, 4, 6, 8, 160, 161, 162, // jumps, back, and forth
      ];
      for (const i of order) expect(text(snap.getState(k(i)))).toBe(i % 2 === 0 ? `v${i}` : undefined);
      snap.close();
    }),
  );

  it(
    'a snapshot does not see later writes',
    withBackend(async (be) => {
      await be.write((w) => w.putState(b('k'), b('old')), false);
      const snap = be.openSnapshot();
      await be.write((w) => {
        w.putState(b('k'), b('new'));
        w.putState(b('k2'), b('x'));
      }, false);
      expect(text(snap.getState(b('k')))).toBe('old');
      expect([...snap.states()].length).toBe(1);
      snap.close();
      expect(text(be.getState(b('k')))).toBe('new');
    }),
  );

  it(
    'writes issued in one event turn share one commit',
    withBackend(async (be) => {
      const before = be.commits;
      await Promise.all(Array.from({ length: 100 }, (_, i) => be.write((w) => w.putState(b(`k${i}`), b('v')), true)));
      expect(be.commits - before).toBeLessThanOrEqual(2);
      expect(be.commits - before).toBeGreaterThanOrEqual(1);
    }),
  );

  it(
    'a transaction that throws rejects its own promise only',
    withBackend(async (be) => {
      const ok = be.write((w) => w.putState(b('good'), b('1')), false);
      const bad = be.write(() => {
        throw new Error('refused');
      }, false);
      await expect(bad).rejects.toThrow('refused');
      await ok;
      expect(text(be.getState(b('good')))).toBe('1');
    }),
  );
}
