// Helpers for garbage-collection tests with real daemons: writing and deleting through
// `replikv import`, key ranges, and waiting until the nodes count each other as GC members.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { untilConnected, type Fleet, type TestDaemon } from './daemons.js';
import { eventually } from './process.js';

/** Collections every half second, so a test sees them in time. */
export const GC = ['--gc-interval', '500'];

/** Writes NDJSON lines through `replikv import` (a line with "value": null deletes its key). */
export async function importLines(fleet: Fleet, node: TestDaemon, lines: object[]): Promise<void> {
  const file = join(fleet.tmpdir(), 'lines.ndjson');
  writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  const r = await node.cli('import', file);
  expect(r.code, r.stderr).toBe(0);
}

export const puts = (keys: string[], value = (key: string) => `value of ${key}`) => keys.map((key) => ({ key, value: value(key) }));
export const dels = (keys: string[]) => keys.map((key) => ({ key, value: null }));
export const range = (from: number, to: number, prefix = 'k') => Array.from({ length: to - from }, (_, i) => `${prefix}/${from + i}`);

/** What these tests look at in each node's status (a timeout then shows it, not the whole status). */
export const statuses = (nodes: TestDaemon[]) =>
  Promise.all(
    nodes.map(async (n) => {
      const { state, keys, digest, tombstones, storeBytes, gc, warnings } = await n.status();
      return { state, keys, digest, tombstones, storeBytes, gc, warnings };
    }),
  );

/**
 * Waits until every node is ready and counts every other one as a member for GC (it heard their
 * digests): before that a node still bootstrapping is no member, and GC would not wait for it.
 */
export async function untilMembers(nodes: TestDaemon[]): Promise<void> {
  await untilConnected(nodes);
  await eventually(
    () => statuses(nodes),
    (all) => all.every((s) => s.state === 'ready' && s.gc.members === nodes.length - 1),
    `${nodes.length} daemons to be ready and members of each other`,
    30_000,
  );
}

/** Did `node` log a line with this message about this peer? */
export function logged(node: TestDaemon, msg: string, peer: string): boolean {
  return node.child
    .stderr()
    .split('\n')
    .some((l) => l.includes(msg) && l.includes(`"peer":"${peer}"`));
}
