// Fixed ports for daemons that must come back where they were (a restart, a seed address known in
// advance), and the small steps the membership tests share.
import { createServer, type Server } from 'node:net';
import { expect } from 'vitest';
import type { TestDaemon } from './daemons.js';
import { eventually } from './process.js';

/** Ports the OS says are free now (closed again at once, so a daemon can take them). */
export async function freePorts(n: number): Promise<number[]> {
  const held = await Promise.all(
    Array.from({ length: n }, () => new Promise<Server>((ok) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => ok(s));
    })),
  );
  const ports = held.map((s) => (s.address() as { port: number }).port);
  await Promise.all(held.map((s) => new Promise((ok) => s.close(ok))));
  return ports;
}

export const tcp = (port: number) => `/ip4/127.0.0.1/tcp/${port}`;

/** A put through the real CLI. */
export async function putOn(node: TestDaemon, key: string, value: string): Promise<void> {
  const r = await node.cli('put', key, value);
  expect(r.code, r.stderr).toBe(0);
}

/** Waits until every node reads `value` at `key`. */
export async function untilValue(nodes: TestDaemon[], key: string, value: string, ms = 30_000): Promise<void> {
  await eventually(
    () => Promise.all(nodes.map((n) => n.client.get(key))),
    (vs) => vs.every((v) => v !== undefined && Buffer.from(v).toString() === value),
    `${key}=${value} on ${nodes.length} nodes`,
    ms,
  );
}
