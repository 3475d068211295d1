// HOST:PORT addresses of the daemon's TCP listeners other than libp2p's (--resp, --metrics): an
// IPv4 address, a bracketed IPv6 one ([::1]:6379) or a host name, and a port from 0 (the system
// picks one) to 65535. Pure, so config validation can use it.

import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The host and port of HOST:PORT, or a message saying what is wrong. */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(text);
  if (m === null) return `"${text}" is not an address: expected HOST:PORT, e.g. 127.0.0.1:9000 or [::1]:9000 (port 0: any free port)`;
  const port = Number(m[3]);
  if (port > 65535) return `"${text}": the port must be 0 to 65535`;
  if (m[1] !== undefined) {
    if (isIP(m[1]) !== 6) return `"${text}": [${m[1]}] is not an IPv6 address`;
    return { host: m[1], port };
  }
  const host = m[2]!;
  if (isIP(host) === 0 && !HOST_NAME.test(host)) return `"${text}": "${host}" is neither an IP address nor a host name`;
  return { host, port };
}

/** Only this machine can connect: 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) or localhost. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h;
  return isIP(v4) === 4 && v4.startsWith('127.');
}

/** HOST:PORT as printed and parsed back (IPv6 in brackets). */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
