// The metrics address, HOST:PORT: an IPv4 address, a bracketed IPv6 one ([::1]:9464) or a host
// name, and a port from 0 (the system picks one) to 65535. Pure, so config validation can use it.

import { isIP } from 'node:net';

export interface HostPort {
  host: string;
  port: number;
}

const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** The host and port of HOST:PORT, or a message saying what is wrong. */
export function parseHostPort(text: string): HostPort | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  if (m === null) return `"${text}" is not HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464)`;
  const port = Number(m[3]);
  if (port > 65535) return `port ${port} is beyond 65535`;
  if (m[1] !== undefined) {
    if (isIP(m[1]) !== 6) return `"${m[1]}" in brackets is not an IPv6 address`;
    return { host: m[1], port };
  }
  const host = m[2]!;
  if (isIP(host) === 0 && !HOST_NAME.test(host)) return `"${host}" is neither an IP address nor a host name`;
  return { host, port };
}

/** Whether only this machine can reach the address (a wider one is allowed, and logged at start). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** HOST:PORT as printed and parsed back (IPv6 in brackets). */
export function formatHostPort({ host, port }: HostPort): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
