// INFO's text: the sections clients read (server, clients, persistence's loading, keyspace) and a
// replication section that lists replikv's peers and how far behind each is. Fields are Redis's
// where one fits; replikv's own start with replikv_ or name peers.

import { arch, platform, release } from 'node:os';
import type { Ctx } from './command.js';

const SECTIONS = ['server', 'clients', 'persistence', 'keyspace', 'replication'] as const;
type Section = (typeof SECTIONS)[number];

/** INFO [section ...]: no section, "default", "all" or "everything" means every one. */
export function infoText(c: Ctx, asked: string[]): string {
  const all = asked.length === 0 || asked.some((s) => s === 'default' || s === 'all' || s === 'everything');
  const wanted = SECTIONS.filter((s) => all || asked.includes(s));
  return wanted.map((s) => section(c, s)).join('\r\n');
}

function section(c: Ctx, name: Section): string {
  const lines = [`# ${name[0]!.toUpperCase()}${name.slice(1)}`, ...fields(c, name).map(([k, v]) => `${k}:${v}`)];
  return lines.join('\r\n') + '\r\n';
}

function fields(c: Ctx, name: Section): [string, string | number][] {
  const s = c.env.api.status();
  switch (name) {
    case 'server': {
      const [host, port] = splitAddr(c.env.addr());
      return [
        ['redis_version', '7.0.0'],
        ['redis_mode', 'standalone'],
        ['replikv_version', s.version],
        ['os', `${platform()} ${release()} ${arch()}`],
        ['arch_bits', 64],
        ['process_id', process.pid],
        ['tcp_port', port],
        ['bind', host],
        ['uptime_in_seconds', s.uptimeSeconds],
        ['uptime_in_days', Math.floor(s.uptimeSeconds / 86400)],
        ['replikv_peer_id', s.peerId],
        ['replikv_replica_id', s.replicaId],
        ['replikv_state', s.state],
      ];
    }
    case 'clients':
      return [['connected_clients', c.env.clients()]];
    case 'keyspace': {
      // As Redis counts: keys are all of them, expires those with a TTL (status keys counts only the
      // lasting ones). avg_ttl is not estimated. Without the expiring count (unknown after a failed
      // commit) only the lasting keys are given, and no expires: not a wrong 0.
      const exp = s.expiringKeys;
      return [['db0', exp === undefined ? `keys=${s.keys}` : `keys=${s.keys + exp},expires=${exp},avg_ttl=0`]];
    }
    case 'replication': {
      const peers = c.env.api.peers();
      const now = c.env.now();
      return [
        ['role', 'master'],
        ['replikv_mode', 'multi-primary'],
        ['connected_slaves', peers.filter((p) => p.state === 'alive').length],
        ['replikv_peers', peers.length],
        ...peers.map((p, i): [string, string] => [`peer${i}`, `id=${p.peerId},state=${p.state},behind=${p.behind},replica=${p.replicaId ?? '-'},last_seen_ago_ms=${p.lastSeen === null ? -1 : Math.max(0, now - p.lastSeen)}`]),
      ];
    }
    case 'persistence':
      // loading:1 while the node bootstraps or repairs (its key commands answer LOADING): ioredis's
      // ready check reads it and waits, as it does while Redis loads its dataset
      return [['loading', c.env.loading() === null ? 0 : 1]];
  }
}

function splitAddr(addr: string): [string, string] {
  const i = addr.lastIndexOf(':');
  return i < 0 ? [addr, ''] : [addr.slice(0, i), addr.slice(i + 1)];
}
