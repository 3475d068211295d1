// One write transaction's worth of changes, computed before anything is put. Every state change,
// whether a local write or a merged remote state, goes through replace(), which keeps the dot
// index, the digest and the live count in step with the key state. Nothing touches the backend
// until apply(): a throw while computing (a damaged record, a bad delta) leaves the store as it was.
//
// States are handled as encoded bytes plus their facts (dot-index keys, resolved value, max HLC);
// objects are decoded only where a merge or an overwrite needs them. Applying a bootstrap-sized
// delta into an empty store then costs one validating pass per key and no object graph.

import { decodeKeyState, inspectKeyState, type KeyStateFacts } from '../core/codec.js';
import type { KeyState } from '../core/key-state.js';
import { DecodeError } from '../errors.js';
import type { WriteView } from './backend.js';
import { encodeStoreState, META_STATE, type StoreState } from './meta.js';
import { stateHash } from './state-hash.js';

/** A key state as stored: its bytes and what the index needs to know about them. */
export interface Stored {
  readonly bytes: Uint8Array;
  readonly facts: KeyStateFacts;
}

interface Staged extends Stored {
  readonly key: Uint8Array;
}

export class ChangeSet {
  /** The store state as it will be after this transaction. */
  readonly next: StoreState;
  private readonly staged = new Map<string, Staged>();
  private readonly dotOps: { put: boolean; dot: Uint8Array; key: Uint8Array }[] = [];
  private readonly meta: [string, Uint8Array][] = [];

  constructor(
    private readonly w: WriteView,
    current: StoreState,
    private readonly maxValueBytes: number,
  ) {
    this.next = { clock: current.clock.clone(), digest: current.digest.clone(), count: current.count, hlc: current.hlc };
  }

  /**
   * The key's state as this transaction sees it (earlier changes in it included). `id` is any
   * string unique to the key (callers have the key as a string already).
   */
  load(key: Uint8Array, id: string): Stored | undefined {
    const staged = this.staged.get(id);
    if (staged !== undefined) return staged.bytes === REMOVED ? undefined : staged;
    const bytes = this.w.getState(key);
    return bytes === undefined ? undefined : { bytes, facts: inspectKeyState(bytes, this.maxValueBytes) };
  }

  /** Like load, but unreadable bytes (damage on disk) come back with empty facts instead of throwing. */
  loadDamaged(key: Uint8Array, id: string): Stored | undefined {
    try {
      return this.load(key, id);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      return { bytes: this.w.getState(key)!, facts: { dots: [], value: null, maxHlc: 0 } };
    }
  }

  /** The decoded form of a loaded state, for merges and overwrites. */
  decode(s: Stored): KeyState {
    return decodeKeyState(s.bytes, this.maxValueBytes);
  }

  /** Replaces the key's state with `bytes` (canonical encoding; facts derived here unless given). */
  replace(key: Uint8Array, id: string, old: Stored | undefined, bytes: Uint8Array, facts = inspectKeyState(bytes)): void {
    const n = this.next;
    if (old !== undefined) {
      n.digest.xor(stateHash(key, old.bytes));
      if (old.facts.value !== null) n.count--;
      for (const d of old.facts.dots) if (!facts.dots.some((x) => equal24(x, d))) this.dotOps.push({ put: false, dot: d, key });
    }
    n.digest.xor(stateHash(key, bytes));
    if (facts.value !== null) n.count++;
    for (const d of facts.dots) {
      if (old === undefined || !old.facts.dots.some((x) => equal24(x, d))) this.dotOps.push({ put: true, dot: d, key });
    }
    if (facts.maxHlc > n.hlc) n.hlc = facts.maxHlc;
    this.staged.set(id, { key, bytes, facts });
  }

  /** Removes the key (repair only). `old` may be unreadable damage: facts with no dots, no value. */
  remove(key: Uint8Array, id: string, old: Stored): void {
    const n = this.next;
    n.digest.xor(stateHash(key, old.bytes));
    if (old.facts.value !== null) n.count--;
    for (const d of old.facts.dots) this.dotOps.push({ put: false, dot: d, key });
    this.staged.set(id, { key, bytes: REMOVED, facts: old.facts });
  }

  /** Another meta record to write in this transaction (e.g. bootstrap progress with its chunk). */
  setMeta(name: string, value: Uint8Array): void {
    this.meta.push([name, value]);
  }

  /** Writes everything. Only puts from here on: nothing here can fail half-way on bad input. */
  apply(): void {
    for (const { key, bytes } of this.staged.values()) {
      if (bytes === REMOVED) this.w.delState(key);
      else this.w.putState(key, bytes);
    }
    for (const op of this.dotOps) {
      if (op.put) this.w.putDot(op.dot, op.key);
      else this.w.delDot(op.dot);
    }
    for (const [name, value] of this.meta) this.w.putMeta(name, value);
    this.w.putMeta(META_STATE, encodeStoreState(this.next));
  }
}

/** Marks a staged key as removed; compared by identity. */
const REMOVED = new Uint8Array(0);

function equal24(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 24; i++) if (a[i] !== b[i]) return false;
  return true;
}
