// What the sync layer reports as it happens, for counters kept outside it (src/metrics). The
// replicator calls these and never imports a metrics library; without a listener they do nothing.

/** Why a peer's message or connection was refused. */
export type RefusalReason =
  /** Bytes that do not decode (DecodeError): a bad frame, a state beyond a limit or a signed head. */
  | 'decode'
  /** A message out of protocol (ProtocolError): wrong order, a stream that stalls, a head-check budget spent. */
  | 'protocol'
  /** A claim of writes the peer did not carry, cut to this node's evidence. */
  | 'claim_cut'
  /** A connection or stream of a forgotten peer. */
  | 'forgotten_peer'
  /** An inbound sync stream beyond the per-connection limit. */
  | 'stream_limit'
  /** A forget a peer sent that is not signed by a configured operator key (or names this node). */
  | 'forget'
  /** A peer's GC frontier covering writes this node never received (sync/catch-up.ts). */
  | 'gc_frontier';

export const REFUSAL_REASONS: readonly RefusalReason[] = ['decode', 'protocol', 'claim_cut', 'forgotten_peer', 'stream_limit', 'forget', 'gc_frontier'];

export interface SyncEvents {
  /** A PUSH frame written to a peer. */
  pushSent(): void;
  /** Key states written to a peer (DELTA, PUSH and snapshot frames). */
  keysSent(n: number): void;
  /** A PUSH frame from a peer applied. */
  pushReceived(): void;
  /** A sync exchange ended: started by this node or served to a peer; `busy`: the peer was bootstrapping. */
  exchange(role: 'initiated' | 'served', result: 'ok' | 'busy' | 'failed'): void;
  /** A snapshot stream to a peer ended: streamed whole, or cut short. */
  snapshotServed(result: 'complete' | 'aborted'): void;
  refused(reason: RefusalReason): void;
  /** A write-concern wait ended: met, or timed out (the write stays). */
  concernWait(result: 'met' | 'timeout'): void;
}

const nothing = (): void => undefined;

export const NO_SYNC_EVENTS: SyncEvents = {
  pushSent: nothing,
  keysSent: nothing,
  pushReceived: nothing,
  exchange: nothing,
  snapshotServed: nothing,
  refused: nothing,
  concernWait: nothing,
};
