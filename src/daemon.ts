// The daemon process. For now it opens the node's store and reports its state; networking and the
// control socket come on top of this. It runs until SIGINT or SIGTERM, then closes the store
// cleanly (every acknowledged write is already committed; close waits for the last flush).

import type { Config } from './config.js';
import { Keyspace } from './store/keyspace.js';

export async function runDaemon(config: Config, log: (line: string) => void): Promise<void> {
  const ks = await Keyspace.openDir(config.dataDir, { durability: config.durability, maxValueBytes: config.maxValueBytes });
  const s = ks.summary();
  log(
    JSON.stringify({
      msg: 'replikv store open',
      replicaId: s.replicaId,
      dataDir: config.dataDir,
      durability: config.durability,
      keys: s.keys,
      digest: s.digest,
      clock: s.clock.toJSON(),
    }),
  );
  await new Promise<void>((resolve) => {
    // Signal listeners alone do not keep Node running; this handle does until we are told to stop.
    const alive = setInterval(() => {}, 1 << 30);
    const stop = (signal: string) => {
      clearInterval(alive);
      log(JSON.stringify({ msg: 'shutting down', signal }));
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await ks.close();
  log(JSON.stringify({ msg: 'store closed' }));
}
