// The RESP listen address (config "resp", flag --resp): HOST:PORT, [IPv6]:PORT. A listener
// reachable from other machines must have a password: the keyspace is readable and writable by
// anyone who can connect.

import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

/** HOST:PORT as given, or a message saying what is wrong with it. */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  const expected = 'expected HOST:PORT, e.g. 127.0.0.1:6379 or [::1]:6379 (port 0: any free port)';
  if (m === null) return `"${text}" is not an address: ${expected}`;
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port > 65535) return `"${text}": the port must be 0 to 65535`;
  if (m[1] !== undefined && isIP(host) !== 6) return `"${text}": [${host}] is not an IPv6 address`;
  return { host, port };
}

/** Only this machine can connect: 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

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
