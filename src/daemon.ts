// The daemon: data-directory lock, identity, libp2p node, store, replicator and control socket,
// started in that order and stopped in reverse on SIGINT or SIGTERM (stop accepting control
// requests, stop syncing, close peers, let a bootstrap commit its last chunk, close the store,
// which waits for the last commit and flush, then release the lock).
//
// Start-up checks everything that can refuse it before it creates anything: the swarm key is read,
// the data directory locked, and the listen addresses bound with an identity (and, without a
// configured swarm key, a swarm key) generated in memory, and the metrics and Redis listeners bound
// (they serve once the node is built); only then are the identity and swarm
// keys written and the store opened. A refused start leaves the data directory as it was (one it
// created is removed).
//
// Secure by default: with no swarmKey configured the node runs a private network on the key in
// DATA_DIR/swarm.key, made on its first start; swarmKey "none" opts out (an open network).

import { pino, type Logger } from 'pino';
import type { NodeApi, NodeState, Status } from './control/api.js';
import { startControlServer } from './control/server.js';
import { ChangeFeed } from './feed/change-feed.js';
import { OPEN_NETWORK, type Config } from './config.js';
import { lockDataDir, openToOthers, type DataDirLock } from './data-dir.js';
import { loadOrGenerateIdentity } from './net/identity.js';
import { listenFailure } from './net/listen-error.js';
import { createNetwork, fullAddrs, type Network } from './net/node.js';
import { DEFAULT_SWARM_KEY, loadOrGenerateSwarmKey, readSwarmKeyFile, type DataDirSwarmKey } from './net/swarm-key.js';
import { ConfigError, ReplikvError, ResourceError } from './errors.js';
import { join } from 'node:path';
import { Keyspace, STORE_DIR } from './store/keyspace.js';
import { Bootstrapper } from './sync/bootstrap.js';
import { checkBootstrap } from './sync/bootstrap-check.js';
import { CatchUp } from './sync/catch-up.js';
import { recoverByRanges } from './sync/recon-recovery.js';
import { bootstrapUnreached, statusWarnings } from './status-warnings.js';
import { Healer } from './sync/healer.js';
import { EquivocationReport } from './sync/equivocation-report.js';
import { RepairError, repairNode, verifyNode } from './sync/integrity.js';
import { Replicator } from './sync/replicator.js';
import { BACKUP_MEMBER, Collector, loadMembers } from './sync/collector.js';
import { checkConcern } from './control/concern-check.js';
import { VERSION } from './version.js';
import { parseOperatorKey } from './core/forget-record.js';
import { isLoopback, parseHostPort, type HostPort } from './net/host-port.js';
import { NodeMetrics } from './metrics/registry.js';
import { bindMetricsServer, type MetricsServer } from './metrics/server.js';
import { bindRespServer, type RespServer } from './resp/server.js';

/** Frames carry at most one value of maxValueBytes plus keys, states and framing. */
const FRAME_SLACK = 2 * 1024 * 1024;
const PROGRESS_LOG_MS = 3000;

export interface RunningDaemon {
  api: NodeApi;
  stop(): Promise<void>;
}

/** The parts start-up must be able to refuse, acquired in that order; on failure, nothing is left behind. */
async function acquire(
  config: Config,
  denyPeer: (peerId: string) => boolean,
  metrics: NodeMetrics | undefined,
  log: Logger,
): Promise<{ lock: DataDirLock; node: Network; ks: Keyspace; ownKey?: DataDirSwarmKey; metricsServer?: MetricsServer; resp?: RespServer }> {
  const configured = config.swarmKey === null || config.swarmKey === OPEN_NETWORK ? undefined : readSwarmKeyFile(config.swarmKey);
  const lock = await lockDataDir(config.dataDir);
  let node: Network | undefined;
  let metricsServer: MetricsServer | undefined;
  let resp: RespServer | undefined;
  try {
    // Read under the lock, so no other start of this directory can create it meanwhile.
    const ownKey = config.swarmKey === null ? loadOrGenerateSwarmKey(join(config.dataDir, DEFAULT_SWARM_KEY)) : undefined;
    const swarmKey = configured ?? ownKey?.key;
    const identity = await loadOrGenerateIdentity(config.identity);
    // A forgotten peer may still connect: the replicator tells it so (FORGOTTEN) and hangs up.
    node = await createNetwork({ privateKey: identity.key, listen: config.listen, swarmKey, allowList: config.allowList, denyPeer, admitDenied: true }).catch((err: unknown) => {
      if (err instanceof ReplikvError) throw err;
      const failure = listenFailure((err as Error).message, config.listen);
      throw failure.kind === 'busy' ? new ResourceError(failure.message) : failure.kind === 'config' ? new ConfigError(failure.message) : new ReplikvError(failure.message);
    });
    if (config.metrics !== null) {
      const onError = (err: Error, path: string) => log.warn({ path, reason: err.message }, 'metrics request failed');
      metricsServer = await bindMetricsServer(parseHostPort(config.metrics) as HostPort, onError); // valid: config.ts checked it
    }
    if (config.resp !== null) resp = await bindRespServer({ listen: config.resp, password: config.respPassword, maxValueBytes: config.maxValueBytes }, log);
    await identity.persist();
    await ownKey?.persist();
    const ks = await Keyspace.openDir(config.dataDir, {
      durability: config.durability,
      maxValueBytes: config.maxValueBytes,
      maxSiblings: config.maxSiblings,
      maxClockSkewMs: config.maxClockSkewMs,
      // INFO keyspace's expires (and status expiringKeys): read at open, one key per TTL, so only with --resp
      ...(config.resp === null ? {} : { countExpiring: true }),
      ...(metrics === undefined ? {} : { countSiblings: true, onCommit: metrics.observeCommit }),
    });
    return { lock, node, ks, ...(ownKey === undefined ? {} : { ownKey }), ...(metricsServer === undefined ? {} : { metricsServer }), ...(resp === undefined ? {} : { resp }) };
  } catch (err) {
    await resp?.close();
    await metricsServer?.close();
    await Promise.resolve(node?.stop()).catch(() => undefined);
    await lock.discard();
    throw err;
  }
}

export async function startDaemon(config: Config, log: Logger): Promise<RunningDaemon> {
  // Forgotten peers are refused by the connection gater; the replicator knows them once it exists.
  let forgotten = (_peerId: string): boolean => false;
  const metrics = config.metrics === null ? undefined : new NodeMetrics();
  const { lock, node, ks, ownKey, metricsServer, resp } = await acquire(config, (peerId) => forgotten(peerId), metrics, log);
  if (ks.movedFrom !== null) {
    log.warn({ replicaId: ks.replicaId, previous: ks.movedFrom }, 'this store writes under a new replica id from now on (it had no signing key, or its counter neared the limit); its earlier writes keep their dots');
  }
  const members = loadMembers(ks, log, Date.now());
  const replicator = new Replicator(node, ks, log, {
    members,
    gcGraceMs: config.gcGraceMs,
    mode: config.mode,
    gossipIntervalMs: config.gossipIntervalMs,
    fanout: config.fanout,
    topology: config.topology,
    activeView: config.activeView,
    passiveView: config.passiveView,
    allowList: config.allowList,
    maxFrameBytes: config.maxValueBytes + FRAME_SLACK,
    bootstrap: config.bootstrap,
    peerGoneAfterMs: config.peerGoneAfterMs,
    transferIdleMs: config.transferIdleMs,
    operatorKeys: config.operatorKeys.map(parseOperatorKey),
    maxClockSkewMs: config.maxClockSkewMs,
    ...(metrics === undefined ? {} : { events: metrics.events }),
  });
  forgotten = (peerId) => replicator.refuses(peerId);
  // Divergence at equal clocks is healed by merging the peer's snapshot (healer.ts); only a recount
  // proving local damage lets the peer's states win, through the same repair as the operator's.
  const healer = new Healer(ks, replicator, log, { gossipIntervalMs: config.gossipIntervalMs, repair: (peer) => api.repair(peer) });
  replicator.onPeerDigest = (peer, ours, theirs, via) => void healer.observe(peer, ours, theirs, via);
  const equivocation = new EquivocationReport(log);
  ks.onEquivocation = (found) => equivocation.note(found, Date.now());
  let bootstrapper: Bootstrapper | undefined;
  let repairing = false;
  const startedAt = Date.now();
  const collector = new Collector(ks, members, log, {
    intervalMs: config.gcIntervalMs,
    graceMs: config.gcGraceMs,
    paused: () => replicator.bootstrapping,
    unheard: () => replicator.membership.met(),
  });
  // Behind a peer's GC horizon: only a node restored from a backup takes the peer's word (catch-up.ts).
  // It takes only the states that differ (recon-recovery.ts), the node busy meanwhile as in a repair.
  const recover = async (peer: string): Promise<unknown> => {
    if (replicator.bootstrapping) throw new RepairError(`the node is ${repairing ? 'already repairing' : 'bootstrapping'}`);
    repairing = replicator.bootstrapping = healer.paused = true;
    try {
      const report = await recoverByRanges(ks, replicator, peer);
      if (report === 'busy') throw new RepairError(`peer ${peer} is busy (bootstrapping or repairing)`);
      log.info({ ...report }, 'caught up from the peer by range reconciliation');
      return report;
    } finally {
      repairing = replicator.bootstrapping = healer.paused = false;
    }
  };
  const catchUp = new CatchUp(ks, log, recover, () => repairing || replicator.bootstrapping, metrics?.events);
  replicator.onBehind = (peer, gap, gone) => catchUp.behind(peer, gap.lacking, gone);
  replicator.onWithin = () => catchUp.within();
  const nodeState = (): NodeState => (repairing ? 'recovering' : replicator.bootstrapping ? 'bootstrapping' : 'ready');
  const status = (): Status => {
    const s = ks.summary(Date.now()); // the digest of what a read can return now: comparable between nodes
    const warnings = statusWarnings({
      aloneSeconds: replicator.aloneSeconds(Date.now()),
      unreachedSeconds: replicator.bootstrapping ? replicator.unreachedSeconds(Date.now()) : null,
      refusingPeers: replicator.forgets.refusingPeers(),
      forgottenBy: replicator.forgets.forgottenBy,
      refusedAsGone: catchUp.refusedAsGone,
      behind: catchUp.pending ? [] : [...replicator.horizon.behind].map(([peer, gap]) => ({ peer, lacking: gap.lacking })),
    });
    const g = ks.gcStats();
    const expiring = ks.expiringKeys();
    return {
      peerId: node.peerId.toString(),
      replicaId: s.replicaId,
      addrs: fullAddrs(node),
      mode: config.mode,
      state: nodeState(),
      keys: s.keys,
      ...(expiring === null ? {} : { expiringKeys: expiring }),
      digest: s.digest,
      clock: s.clock.toJSON(),
      peers: replicator.peers().map(({ peerId, state, behind }) => ({ peerId, state, behind })),
      ...(replicator.overlay === undefined ? {} : { overlay: { active: [...replicator.overlay.activeView()], passive: replicator.overlay.hv.passiveView().length, eager: [...replicator.overlay.pt.eagerPeers()] } }),
      transfer: { ...replicator.transfer },
      refused: { ...replicator.refused, frontiers: catchUp.refused },
      heads: { kept: ks.keptHeads(), ...replicator.headChecks, ms: Math.round(replicator.headChecks.ms) },
      divergence: healer.stats(),
      equivocation: equivocation.stats(),
      tombstones: g.tombstones,
      storeBytes: g.storeBytes,
      gc: {
        ...collector.status(),
        frontier: g.frontier.size(),
        retiredReplicas: replicator.retirement.table.size,
        retiredHash: Buffer.from(replicator.retirement.table.hash()).toString('hex'),
        retiredRefused: replicator.retirement.refused,
        withheldFrom: [...replicator.horizon.withheldFrom].map(([peer, gap]) => ({ peer, ...gap })),
        behind: [...replicator.horizon.behind].map(([peer, gap]) => ({ peer, ...gap })),
        refusedAsGone: catchUp.refusedAsGone,
      },
      ...(replicator.bootstrapping && bootstrapper !== undefined ? { bootstrap: { ...bootstrapper.progress } } : {}),
      warnings,
      metrics: metricsServer === undefined ? null : { addr: metricsServer.addr },
      resp: resp === undefined ? null : { addr: resp.addr },
      version: VERSION,
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
    };
  };
  // Every committed change to a key, for watchers (GET /v1/watch); garbage collection is not one.
  const feed = new ChangeFeed();
  ks.onChange = (batch) => {
    try {
      feed.record(batch);
    } catch (err) {
      log.warn({ err }, 'change feed: a committed change could not be passed to watchers'); // the write stands
    }
  };
  const api: NodeApi = {
    feed,
    state: nodeState,
    write: async (ops) => {
      const results = await ks.write(ops);
      replicator.pushed(ops.map((op) => op.key));
      return results;
    },
    read: (key) => ks.read(key),
    get: (key) => ks.get(key),
    expire: async (key, expireAt) => {
      const result = await ks.expire(key, expireAt);
      if (result !== null) replicator.pushed([key]);
      return result;
    },
    expiryOf: (key) => ks.expiryOf(key),
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
      repairing = replicator.bootstrapping = healer.paused = true;
      log.warn({ peer: peer ?? 'any' }, 'repair: re-fetching the keyspace from a peer');
      try {
        const report = await repairNode(ks, replicator, peer);
        log.info({ ...report }, 'repair complete');
        return report;
      } finally {
        repairing = replicator.bootstrapping = healer.paused = false;
      }
    },
    changes: (since) => {
      const view = ks.changes(since);
      // The backup counts as a member: what it lacks is not collected, so the next partial backup
      // can carry every delete made after it (for gcGraceMs; collector.ts).
      members.heard(BACKUP_MEMBER, ks.replicaId, view.clock, Date.now());
      return view;
    },
    forget: async (peer, force, signed) => {
      const record = signed === undefined ? undefined : { peer, at: signed.at, key: Buffer.from(signed.key, 'hex'), sig: Buffer.from(signed.sig, 'hex') };
      const r = await replicator.forget(peer, force, record);
      if (r.forgotten) log.info({ peer, known: r.known, spreads: r.spreads }, r.spreads ? 'peer forgotten by the operator (signed: the other nodes are told)' : 'peer forgotten by the operator (unsigned: on this node only)');
      return { peer, ...r };
    },
  };
  let control: Awaited<ReturnType<typeof startControlServer>>;
  try {
    // Routine control-socket events are debug-level, so the first info line is the daemon's own.
    const controlLog = (obj: object) => ('error' in obj ? log.warn(obj) : log.debug(obj));
    control = await startControlServer(config.control, api, controlLog, { maxValueBytes: config.maxValueBytes });
  } catch (err) {
    await resp?.close();
    await metricsServer?.close();
    await node.stop();
    await ks.close();
    await lock.discard();
    throw err;
  }
  const s = status();
  // The first log line: who this node is and where to reach it.
  log.info({ peerId: s.peerId, replicaId: s.replicaId, addrs: s.addrs, mode: config.mode, dataDir: config.dataDir, control: config.control }, 'replikv daemon started');
  logNetworkAndModes(config, ownKey, log);
  if (metrics !== undefined && metricsServer !== undefined) {
    metrics.attach({ status, peers: () => replicator.peers(), siblings: () => ks.siblingStats() });
    metricsServer.serve({
      scrape: () => metrics.scrape(),
      contentType: metrics.registry.contentType,
      healthy: () => ks.isOpen(),
      state: () => status().state,
    });
    const addr = metricsServer.addr;
    log.info({ addr }, 'metrics listening');
    if (!isLoopback(metricsServer.host)) {
      log.warn({ addr }, 'metrics are served beyond this machine: anyone who can reach the address can read PeerIds, peer states and counts (nothing can be changed through it)');
    }
  }
  if (resp !== undefined) {
    resp.serve(api);
    log.info({ addr: resp.addr, auth: config.respPassword !== null }, 'resp listening');
  }
  let stopping = false;
  let bootstrapped: Promise<void> | undefined;
  if (Bootstrapper.needed(ks, config.bootstrap.length > 0)) {
    const boot = new Bootstrapper(node, ks, replicator, log, { gossipIntervalMs: config.gossipIntervalMs });
    bootstrapper = boot;
    replicator.bootstrapping = healer.paused = true;
    log.info('bootstrapping: streaming a snapshot of the keyspace from a peer');
    let warnedAt = 0; // the warning below, at most every 30 s in place of a progress line
    const progress = setInterval(() => {
      const now = Date.now();
      const unreached = replicator.unreachedSeconds(now);
      if (unreached === null || now - warnedAt < 30_000) return void log.info({ ...boot.progress }, 'bootstrap progress');
      warnedAt = now;
      log.warn({ ...boot.progress, seconds: unreached }, bootstrapUnreached(unreached));
    }, PROGRESS_LOG_MS);
    bootstrapped = boot
      .run()
      .then(async () => {
        if (stopping) return;
        // The store is whole now: compare it with a second peer before ready (bootstrap-check.ts).
        healer.paused = false;
        const gossipIntervalMs = config.gossipIntervalMs;
        await checkBootstrap({ ks, replicator, healer, log, gossipIntervalMs, source: boot.source, stopped: () => stopping });
      })
      .then(
        () => {
          if (!stopping) log.info({ keys: ks.summary().keys }, 'ready');
        },
        (err: unknown) => {
          if (!stopping) log.error({ reason: (err as Error).message }, 'bootstrap failed');
        },
      )
      .finally(() => {
        clearInterval(progress);
        replicator.bootstrapping = false;
      });
  }
  await replicator.start();
  collector.start();
  if (bootstrapped === undefined) log.info({ keys: ks.summary().keys }, 'ready');
  return {
    api,
    async stop() {
      stopping = true;
      bootstrapper?.stop();
      healer.stop();
      await metricsServer?.close();
      await resp?.close();
      await control.close();
      await collector.stop();
      await replicator.stop();
      await node.stop();
      await bootstrapped; // its last chunk commits before the store closes
      await ks.close();
      lock.release();
    },
  };
}

/** After the first line: which network the node is on, and data files other local users can read. */
function logNetworkAndModes(config: Config, ownKey: DataDirSwarmKey | undefined, log: Logger): void {
  if (ownKey !== undefined) {
    log.info(
      { swarmKey: ownKey.file, generated: ownKey.generated },
      `private network: only nodes with the swarm key ${ownKey.file} can connect; to add a machine, copy this file to it and start it with --swarm-key FILE (or config "swarmKey": FILE)`,
    );
  } else if (config.swarmKey === OPEN_NETWORK) {
    log.warn('open network (swarmKey "none"): any host that can reach the listen addresses can read and write the whole keyspace');
  }
  const store = join(config.dataDir, STORE_DIR);
  // The swarm key too, generated or given by path: any local user who reads it can join the network.
  const keyFile = ownKey?.file ?? (config.swarmKey === OPEN_NETWORK ? null : config.swarmKey);
  const files = [config.dataDir, store, join(store, 'data.mdb'), join(store, 'lock.mdb'), config.identity, ...(keyFile === null ? [] : [keyFile])];
  for (const { path, mode } of openToOthers(files)) {
    log.warn({ path, mode }, `${path} has mode ${mode}: other local users can read or change it; chmod go-rwx it (replikv does not change it for you)`);
  }
}

/** What a signal does: the first SIGINT or SIGTERM stops cleanly, a second exits at once; SIGHUP is ignored. */
export function signalAction(signal: NodeJS.Signals, stopping: boolean): 'stop' | 'exit now' | 'ignore' {
  if (signal === 'SIGHUP') return 'ignore';
  return stopping ? 'exit now' : 'stop';
}

/** Exit code of a second SIGINT or SIGTERM that cuts a stop short. */
export const FORCED_EXIT = 1;

/**
 * Installs the signal handlers: resolves with the first SIGINT or SIGTERM. SIGHUP (a closed
 * terminal or SSH session, logrotate) would kill the process: the log goes to stderr, so there is
 * no file to reopen, and the signal is logged and ignored.
 */
function stopSignal(log: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const on = (signal: NodeJS.Signals) => {
      const action = signalAction(signal, stopping);
      if (action === 'ignore') log.info({ signal }, 'SIGHUP ignored (logs go to stderr; there is no log file to reopen)');
      else if (action === 'exit now') {
        log.warn({ signal }, 'second signal: exiting without finishing the clean stop');
        process.exit(FORCED_EXIT);
      } else {
        stopping = true;
        resolve(signal);
      }
    };
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, on);
  });
}

/** Runs the daemon until SIGINT or SIGTERM (also when one arrives during start-up). */
export async function runDaemon(config: Config): Promise<void> {
  const log = pino({ level: config.logLevel, base: undefined }, pino.destination({ dest: 2, sync: true }));
  const signalled = stopSignal(log); // before start-up, so that no signal finds the default handler
  const daemon = await startDaemon(config, log);
  const signal = await signalled;
  log.info({ signal }, 'shutting down');
  await daemon.stop();
  log.info('stopped');
}
