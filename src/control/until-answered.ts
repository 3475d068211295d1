// `replikv wait` may start before the daemon it waits for (`replikv daemon & replikv wait --ready`):
// the control socket appears a second or two later on a loaded machine. Until wait's deadline, a
// socket that is not there yet (ENOENT) or that nothing listens on (ECONNREFUSED: a stale file, a
// daemon restarting) means "ask again". Every other command fails at once (exit 2), which is what a
// person at a prompt wants; so does a socket we may not open (EACCES), which waiting cannot fix.

import { DaemonUnavailableError } from './client.js';

/** Nothing listens on the socket yet: worth asking again. */
export function notListening(err: unknown): boolean {
  if (!(err instanceof DaemonUnavailableError)) return false;
  const code = (err.cause as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ECONNREFUSED';
}

export interface Patience {
  /** Date.now() after which to give up (Infinity: never). */
  deadline: number;
  /** The timeout as given, for the message. */
  timeoutMs?: number;
  pollMs: number;
  /** Called once, at the first failed attempt (to tell a person at a terminal what we wait for). */
  onWaiting?: (err: DaemonUnavailableError) => void;
}

/**
 * `ask`'s answer, asking again while no daemon listens. After the deadline: a
 * DaemonUnavailableError (exit 2) saying no daemon answered within the timeout.
 */
export async function untilAnswered<T>(ask: () => Promise<T>, p: Patience): Promise<T> {
  let told = false;
  for (;;) {
    try {
      return await ask();
    } catch (err) {
      if (!notListening(err)) throw err;
      const e = err as DaemonUnavailableError;
      const left = p.deadline - Date.now();
      if (left <= 0) throw new DaemonUnavailableError(`no replikv daemon answered within ${p.timeoutMs} ms: ${e.message}`, { cause: e });
      if (!told) p.onWaiting?.(e);
      told = true;
      await new Promise((r) => setTimeout(r, Math.min(p.pollMs, left)));
    }
  }
}
