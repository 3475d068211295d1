// The difference between two clocks as replaced entries, so a DIGEST can carry only the replicas
// whose entry changed since a clock the receiver holds (sync/digest-bases.ts). Pure and generic:
// an entry may grow, shrink or vanish (a retired replica left out of a DIGEST shrinks the clock).
//
// Wire form (after the receiver's base clock is known):
//   n:varint  n × (ref:varint [replica:16 when ref = 0]  nRuns:varint  nRuns × (gap:varint len:varint))
//   ref k > 0: the base's k-th replica in sorted order (1-based); ref 0: a replica named in full.
//   nRuns 0: the replica's entry is removed. Runs as in a clock (core/codec.ts).

import { Writer, type Reader } from './bytes.js';
import { Clock } from './clock.js';
import { readRuns, replicaToBytes, writeRuns } from './codec.js';
import type { ReplicaId } from './replica.js';
import { DecodeError } from '../errors.js';

/** One replaced entry: a replica (by id, or by its index in the base's sorted replicas) and its new runs (none: removed). */
export interface DiffEntry {
  r: ReplicaId | number;
  runs: [number, number][];
}

export type ClockDiff = DiffEntry[];

/** The limits a clock from a peer is held to (readClock's): a rebuilt clock is held to the same. */
export const CLOCK_LIMITS = { maxReplicas: 65536, maxRuns: 1 << 20 } as const;

/** The entries of `next` that differ from `base`, by replica id in sorted order. */
export function diffClock(base: Clock, next: Clock): ClockDiff {
  const out: ClockDiff = [];
  const ids = new Set([...base.replicas(), ...next.replicas()]);
  for (const r of [...ids].sort()) {
    const runs = next.runs(r);
    if (!sameRuns(base.runs(r), runs)) out.push({ r, runs });
  }
  return out;
}

/**
 * `base` with the diff's entries replaced: a new clock (base is not changed). A diff that names a
 * replica twice, an index outside the base, or that yields a clock past CLOCK_LIMITS throws
 * DecodeError: the same bounds a whole clock from a peer is held to.
 */
export function applyClockDiff(base: Clock, diff: ClockDiff): Clock {
  const ids = base.replicas();
  const out = base.clone();
  const seen = new Set<ReplicaId>();
  for (const e of diff) {
    const r = typeof e.r === 'number' ? ids[e.r] : e.r;
    if (r === undefined) throw new DecodeError(`clock diff: replica index ${e.r as number} outside the base's ${ids.length}`);
    if (seen.has(r)) throw new DecodeError('clock diff: a replica named twice');
    seen.add(r);
    out.drop(r);
    for (const [from, to] of e.runs) out.addRange(r, from, to);
  }
  let runs = 0;
  const replicas = out.replicas();
  if (replicas.length > CLOCK_LIMITS.maxReplicas) throw new DecodeError(`clock diff: ${replicas.length} replicas exceed the limit ${CLOCK_LIMITS.maxReplicas}`);
  for (const r of replicas) runs += out.runs(r).length;
  if (runs > CLOCK_LIMITS.maxRuns) throw new DecodeError(`clock diff: run count ${runs} out of range`);
  return out;
}

/** Writes `diff` against `base`: a replica the base holds goes by its index, a new one in full. */
export function writeClockDiff(w: Writer, base: Clock, diff: ClockDiff): void {
  const index = new Map(base.replicas().map((r, i) => [r, i]));
  w.varint(diff.length);
  for (const e of diff) {
    const i = typeof e.r === 'number' ? e.r : index.get(e.r);
    if (i === undefined) {
      w.varint(0);
      w.bytes(replicaToBytes(e.r as ReplicaId));
    } else {
      w.varint(i + 1);
    }
    writeRuns(w, e.runs);
  }
}

/** Reads a diff (indices are resolved against the base by applyClockDiff). Runs must be well-formed. */
export function readClockDiff(rd: Reader): ClockDiff {
  const n = rd.varint();
  if (n > 2 * CLOCK_LIMITS.maxReplicas) rd.fail(`clock diff of ${n} entries exceeds the limit`);
  const out: ClockDiff = [];
  let total = 0;
  for (let i = 0; i < n; i++) {
    const ref = rd.varint();
    const r: ReplicaId | number = ref === 0 ? rd.hex16() : ref - 1;
    const nRuns = rd.varint();
    total += nRuns;
    if (total > CLOCK_LIMITS.maxRuns) rd.fail(`run count ${nRuns} out of range`);
    const runs: [number, number][] = [];
    readRuns(rd, nRuns, (from, to) => runs.push([from, to]));
    out.push({ r, runs });
  }
  return out;
}

function sameRuns(a: [number, number][], b: [number, number][]): boolean {
  return a.length === b.length && a.every(([f, t], i) => f === b[i]![0] && t === b[i]![1]);
}

/** Encoded size of a diff against `base` (for tests and benchmarks). */
export function clockDiffBytes(base: Clock, diff: ClockDiff): number {
  const w = new Writer(64);
  writeClockDiff(w, base, diff);
  return w.finish().length;
}
