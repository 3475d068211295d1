// Hybrid logical clock timestamps, as one safe integer: wall-clock milliseconds * 1024 + a logical
// counter. Timestamps only order concurrent siblings for the resolver; causality is carried by dots.
// The next timestamp is above every one this replica has issued or seen, so a replica's later write
// wins against anything it has observed even when its wall clock is behind.

export const HLC_LOGICAL_BITS = 1024;

export function nextHlc(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs) * HLC_LOGICAL_BITS);
}

export function observeHlc(last: number, seen: number): number {
  return seen > last ? seen : last;
}

/** Milliseconds since the epoch that a timestamp stands for (for display). */
export function hlcMillis(hlc: number): number {
  return Math.floor(hlc / HLC_LOGICAL_BITS);
}
