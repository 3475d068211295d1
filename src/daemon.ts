// The daemon: store, identity, libp2p node, replicator and control socket, started in that order
// and stopped in reverse on SIGINT or SIGTERM (stop accepting control requests, stop syncing,
// close peers, then close the store, which waits for the last commit and flush).

import { pino, type Logger } from 'pino';
import type { NodeApi, Status } from './control/api.js';
import { startControlServer } from './control/server.js';
import type { Config } from './config.js';
import { loadOrCreateIdentity } from './net/identity.js';
import { createNetwork, fullAddrs } from './net/node.js';
import { readSwarmKeyFile } from './net/swarm-key.js';
import { ReplikvError } from './errors.js';
import { Keyspace } from './store/keyspace.js';
import { Bootstrapper } from './sync/bootstrap.js';
import { RepairError, repairNode, verifyNode } from './sync/integrity.js';
import { aloneWarnAfterMs, Replicator } from './sync/replicator.js';
import { checkConcern } from './control/concern-check.js';
import { VERSION } from './version.js';

/** Frames carry at most one value of maxValueBytes plus keys, states and framing. */
const FRAME_SLACK = 2 * 1024 * 1024;
const PROGRESS_LOG_MS = 3000;

export interface RunningDaemon {
  api: NodeApi;
  stop(): Promise<void>;
}

export async function startDaemon(config: Config, log: Logger): Promise<RunningDaemon> {
  // Forgotten peers are refused by the connection gater; the replicator knows them once it exists.
  let forgotten = (_peerId: string): boolean => false;
  const ks = await Keyspace.openDir(config.dataDir, { durability: config.durability, maxValueBytes: config.maxValueBytes });
  const node = await createNetwork({
    privateKey: await loadOrCreateIdentity(config.identity),
    listen: config.listen,
    swarmKey: config.swarmKey === null ? undefined : readSwarmKeyFile(config.swarmKey),
    allowList: config.allowList,
    denyPeer: (peerId) => forgotten(peerId),
  }).catch(async (err: unknown) => {
    await ks.close();
    if (err instanceof ReplikvError) throw err;
    throw new ReplikvError(`cannot start networking on ${config.listen.join(', ')}: ${(err as Error).message}`, { cause: err });
  });
  const replicator = new Replicator(node, ks, log, {
    mode: config.mode,
    gossipIntervalMs: config.gossipIntervalMs,
    fanout: config.fanout,
    maxFrameBytes: config.maxValueBytes + FRAME_SLACK,
    bootstrap: config.bootstrap,
    peerGoneAfterMs: config.peerGoneAfterMs,
  });
  forgotten = (peerId) => replicator.membership.isForgotten(peerId);
  let bootstrapper: Bootstrapper | undefined;
  let repairing = false;
  const startedAt = Date.now();
  const status = (): Status => {
    const s = ks.summary();
    const alone = replicator.aloneForMs(Date.now());
    const warnings =
      alone !== null && alone >= aloneWarnAfterMs(config.gossipIntervalMs) && (s.keys > 0 || !s.clock.isEmpty())
        ? [`no peer reachable for ${Math.round(alone / 1000)} s: writes on this node are not being replicated`]
        : [];
    return {
      peerId: node.peerId.toString(),
      replicaId: s.replicaId,
      addrs: fullAddrs(node),
      mode: config.mode,
      state: repairing ? 'recovering' : replicator.bootstrapping ? 'bootstrapping' : 'ready',
      keys: s.keys,
      digest: s.digest,
      clock: s.clock.toJSON(),
      peers: replicator.peers().map(({ peerId, state, behind }) => ({ peerId, state, behind })),
      transfer: { ...replicator.transfer },
      ...(replicator.bootstrapping && bootstrapper !== undefined ? { bootstrap: { ...bootstrapper.progress } } : {}),
      warnings,
      version: VERSION,
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
    };
  };
  const api: NodeApi = {
    write: async (ops) => {
      const results = await ks.write(ops);
      replicator.pushed(ops.map((op) => op.key));
      return results;
    },
    read: (key) => ks.read(key),
    scan: (opts) => ks.scan(opts),
    status,
    peers: () => replicator.peers(),
    awaitReplicas: (dots, concern) => replicator.waitForReplicas(dots, concern.w, concern.timeoutMs),
    // Members: this node and its peer table, whatever membership keeps in it.
    checkConcern: (concern) => checkConcern(concern.w, replicator.membership.list().length),
    verify: () => verifyNode(ks, replicator),
    repair: async (peer) => {
      if (replicator.bootstrapping) throw new RepairError(`the node is ${repairing ? 'already repairing' : 'bootstrapping'}; try again when it is ready`);
      // While repairing, the node neither serves its (damaged) keyspace to peers nor runs rounds.
      repairing = replicator.bootstrapping = true;
      log.warn({ peer: peer ?? 'any' }, 'repair: re-fetching the keyspace from a peer');
      try {
        const report = await repairNode(ks, replicator, peer);
        log.info({ ...report }, 'repair complete');
        return report;
      } finally {
        repairing = replicator.bootstrapping = false;
      }
    },
    changes: (since) => ks.changes(since),
    forget: async (peer) => {
      const forgotten = await replicator.forget(peer);
      if (forgotten) log.info({ peer }, 'peer forgotten by the operator');
      return { peer, forgotten };
    },
  };
  let control: Awaited<ReturnType<typeof startControlServer>>;
  try {
    // Routine control-socket events are debug-level, so the first info line is the daemon's own.
    const controlLog = (obj: object) => ('error' in obj ? log.warn(obj) : log.debug(obj));
    control = await startControlServer(config.control, api, controlLog, { maxValueBytes: config.maxValueBytes });
  } catch (err) {
    await node.stop();
    await ks.close();
    throw err;
  }
  const s = status();
  // The first log line: who this node is and where to reach it.
  log.info({ peerId: s.peerId, replicaId: s.replicaId, addrs: s.addrs, mode: config.mode, dataDir: config.dataDir, control: config.control }, 'replikv daemon started');
  if (Bootstrapper.needed(ks, config.bootstrap.length > 0)) {
    const boot = new Bootstrapper(node, ks, replicator, log, { gossipIntervalMs: config.gossipIntervalMs });
    bootstrapper = boot;
    replicator.bootstrapping = true;
    log.info('bootstrapping: streaming a snapshot of the keyspace from a peer');
    const progress = setInterval(() => log.info({ ...boot.progress }, 'bootstrap progress'), PROGRESS_LOG_MS);
    void boot.run().finally(() => {
      clearInterval(progress);
      replicator.bootstrapping = false;
      log.info({ keys: ks.summary().keys }, 'ready');
    });
  }
  await replicator.start();
  return {
    api,
    async stop() {
      bootstrapper?.stop();
      await control.close();
      await replicator.stop();
      await node.stop();
      await ks.close();
    },
  };
}

/** Runs the daemon until SIGINT or SIGTERM. */
export async function runDaemon(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel, base: undefined }, pino.destination({ dest: 2, sync: true }));
  const daemon = await startDaemon(config, log);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log.info({ signal }, 'shutting down');
  await daemon.stop();
  log.info('stopped');
}

