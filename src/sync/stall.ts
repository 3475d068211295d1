// When a transfer counts as stalled (pure). A transfer's liveness is judged by bytes moving, not by
// whole frames arriving: one 16 MiB frame over a slow link takes far longer than any sensible bound
// on silence, yet every second some of its bytes arrive.

/** What the watchdog remembers between checks: bytes moved so far, and when that last grew. */
export interface StallState {
  moved: number;
  at: number;
}

/**
 * Bytes that moved on a stream, either way: those received, plus those written that have left the
 * stream's write buffer (the peer's flow-control window let them go, so the peer is reading).
 */
export function bytesMoved(received: number, written: number, unsent: number): number {
  return received + written - unsent;
}

/**
 * One check. More bytes moved than last time, or nothing owed either way (`busy` false: an open
 * push stream between writes), resets the clock; otherwise the transfer is stalled once no byte
 * moved for longer than `idleMs`.
 */
export function checkStall(prev: StallState, moved: number, busy: boolean, now: number, idleMs: number): { state: StallState; stalled: boolean } {
  if (moved !== prev.moved || !busy) return { state: { moved, at: now }, stalled: false };
  return { state: prev, stalled: now - prev.at > idleMs };
}
