// What to tell the user when libp2p cannot listen. libp2p reports every failed address in one
// message with its own advice (transportManager.faultTolerance) and the socket errors' stacks;
// the user needs the address and the reason in one line.

export interface ListenFailure {
  /** One line: the addresses and why. */
  message: string;
  /** busy: in use or not permitted (exit 75); config: the address is not this machine's (exit 78). */
  kind: 'busy' | 'config' | 'other';
}

const REASONS: Record<string, [string, ListenFailure['kind']]> = {
  EADDRINUSE: ['address already in use', 'busy'],
  EACCES: ['permission denied (ports below 1024 need privileges)', 'busy'],
  EADDRNOTAVAIL: ['no such address on this machine', 'config'],
};

/** Why a listen failed, from a socket error code, and what kind of failure that is. */
export function listenReason(code: string): [string, ListenFailure['kind']] {
  return REASONS[code] ?? [code, 'other'];
}

/** Reads libp2p's "failed to be listened on" message: lines "  ADDR: Error: listen CODE: ...". */
export function listenFailure(errorMessage: string, listen: readonly string[]): ListenFailure {
  const failed: string[] = [];
  let kind: ListenFailure['kind'] | undefined;
  for (const line of errorMessage.split('\n')) {
    const m = /^\s*(\/\S+): .*?\b(E[A-Z]{3,})\b/.exec(line);
    if (m === null) continue;
    const [reason, k] = listenReason(m[2]!);
    failed.push(`${m[1]} (${reason})`);
    kind = kind === undefined || kind === k ? k : 'other';
  }
  if (failed.length === 0) return { message: `cannot listen on ${listen.join(', ')}: ${errorMessage.split('\n')[0]}`, kind: 'other' };
  return { message: `cannot listen on ${failed.join(', ')}`, kind: kind ?? 'other' };
}
