// One write transaction's worth of changes, computed before anything is put. Every state change,
// whether a local write or a merged remote state, goes through replace(), which keeps the dot
// index, the digest and the live count in step with the key state. Nothing touches the backend
// until apply(): a throw while computing (a damaged record, a bad delta) leaves the store as it was.

import { decodeKeyState, encodeKeyState } from '../core/codec.js';
import { isLive, type KeyState } from '../core/key-state.js';
import type { ReplicaId } from '../core/replica.js';
import type { WriteView } from './backend.js';
import { encodeStoreState, META_STATE, type StoreState } from './meta.js';
import { stateHash } from './state-hash.js';

interface Staged {
  key: Uint8Array;
  state: KeyState;
  bytes: Uint8Array;
}

type DotOp = { put: true; r: ReplicaId; c: number; key: Uint8Array } | { put: false; r: ReplicaId; c: number };

export class ChangeSet {
  /** The store state as it will be after this transaction. */
  readonly next: StoreState;
  private readonly staged = new Map<string, Staged>();
  private readonly dotOps: DotOp[] = [];

  constructor(
    private readonly w: WriteView,
    current: StoreState,
    private readonly maxValueBytes: number,
  ) {
    this.next = { clock: current.clock.clone(), digest: current.digest.clone(), count: current.count, hlc: current.hlc };
  }

  /** The key's state as this transaction sees it (earlier changes in it included). */
  load(key: Uint8Array): { state: KeyState; bytes: Uint8Array } | undefined {
    const staged = this.staged.get(idOf(key));
    if (staged !== undefined) return staged;
    const bytes = this.w.getState(key);
    return bytes === undefined ? undefined : { state: decodeKeyState(bytes, this.maxValueBytes), bytes };
  }

  /** Replaces the key's state; `bytes` may be passed when already encoded. */
  replace(key: Uint8Array, old: { state: KeyState; bytes: Uint8Array } | undefined, state: KeyState, bytes = encodeKeyState(state)): void {
    const n = this.next;
    if (old !== undefined) {
      n.digest.xor(stateHash(key, old.bytes));
      if (isLive(old.state)) n.count--;
      for (const s of old.state.sibs) {
        if (!state.sibs.some((x) => x.r === s.r && x.c === s.c)) this.dotOps.push({ put: false, r: s.r, c: s.c });
      }
    }
    n.digest.xor(stateHash(key, bytes));
    if (isLive(state)) n.count++;
    for (const s of state.sibs) {
      if (old === undefined || !old.state.sibs.some((x) => x.r === s.r && x.c === s.c)) {
        this.dotOps.push({ put: true, r: s.r, c: s.c, key });
      }
      if (s.hlc > n.hlc) n.hlc = s.hlc;
    }
    this.staged.set(idOf(key), { key, state, bytes });
  }

  /** Writes everything. Only puts from here on: nothing here can fail half-way on bad input. */
  apply(): void {
    for (const { key, bytes } of this.staged.values()) this.w.putState(key, bytes);
    for (const op of this.dotOps) {
      if (op.put) this.w.putDot(op.r, op.c, op.key);
      else this.w.delDot(op.r, op.c);
    }
    this.w.putMeta(META_STATE, encodeStoreState(this.next));
  }
}

function idOf(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.length).toString('latin1');
}
