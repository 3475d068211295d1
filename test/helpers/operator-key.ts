// An operator key for a fleet's daemons, made by the real CLI (replikv keygen --operator): the file
// the operator signs forgets with, and the public half every daemon is started with.
import { join } from 'node:path';
import { CLI, type Fleet } from './daemons.js';
import { run } from './process.js';

export interface TestOperatorKey {
  file: string;
  publicKey: string;
  /** Daemon flags that make a daemon obey this key's forgets. */
  flags: string[];
}

export async function operatorKey(fleet: Fleet): Promise<TestOperatorKey> {
  const file = join(fleet.tmpdir(), 'operator.key');
  const c = run([CLI, 'keygen', '--operator', '--out', file, '--json']);
  const { code } = await c.exited;
  if (code !== 0) throw new Error(`keygen --operator failed: ${c.stderr()}`);
  const { publicKey } = JSON.parse(c.stdout()) as { publicKey: string };
  return { file, publicKey, flags: ['--operator-key', publicKey] };
}
