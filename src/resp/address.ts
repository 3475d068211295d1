// The RESP listen address (config "resp", flag --resp): HOST:PORT, [IPv6]:PORT. A listener
// reachable from other machines must have a password: the keyspace is readable and writable by
// anyone who can connect.

import { isLoopback, parseHostPort } from '../net/host-port.js';

/** Why a resp setting cannot run, or null when it can (no listener, or loopback, or a password). */
export function respConfigProblem(resp: string | null, password: string | null): string | null {
  if (resp === null) return null;
  const hp = parseHostPort(resp);
  if (typeof hp === 'string') return `resp: ${hp}`;
  if (!isLoopback(hp.host) && password === null) {
    return `resp: ${resp} is reachable from other machines and no respPassword is set: anyone who can connect could read and write the keyspace. Set respPassword (or --resp-password-file FILE), or listen on 127.0.0.1`;
  }
  return null;
}
