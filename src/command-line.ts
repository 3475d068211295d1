// The replikv command line (loaded by cli.ts). Commands are thin: parse, call a function, map typed errors to exit
// codes (64 usage, 78 configuration, 2 store or daemon unreachable, 3 write concern not met,
// 4 a damaged backup or a wrong key, 75 a data directory or address in use or unwritable, 1 anything
// else). With --json an error is one JSON line on stderr, {"error": MESSAGE, "code": CODE}, with the
// same exit code.

import './polyfill.js';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DaemonUnavailableError, RequestError } from './control/client.js';
import * as cmd from './control/commands.js';
import type { RepoOptions } from './backup/commands.js';
import { DamagedBackupError, WrongKeyError } from './backup/errors.js';
import { BACKUP_TYPES, type BackupType } from './backup/backup-type.js';
import { daemonCommand } from './daemon-command.js';
import { ConfigError, ReplikvError, ResourceError, StoreError } from './errors.js';
import { exactBound, exactKey, exactValue, keyFromBase64, processArgs } from './control/argv-bytes.js';
import { errorLine, wantsJson } from './control/error-output.js';
import { expireAtOf, parseSeconds, ttlExpected } from './control/ttl.js';
import { VERSION } from './version.js';
import { parsePosition } from './feed/feed-log.js';

export const EXIT = { ok: 0, error: 1, unavailable: 2, concern: 3, damaged: 4, usage: 64, resource: 75, config: 78 } as const;

const io: cmd.Io = { stdin: process.stdin, stdout: process.stdout };
// Loaded by the commands that use them: a get or put does not pay for backups (or zod, or the daemon).
const backups = () => import('./backup/commands.js');

function replicaCount(raw: string): number | 'all' {
  return raw === 'all' ? 'all' : wholeAtLeastOne(raw, 'a positive integer or "all"');
}

/** A commander option parser: called with (value, previous), so it takes one argument only. */
function positiveInt(raw: string): number {
  return wholeAtLeastOne(raw, 'a positive integer');
}

function wholeAtLeastOne(raw: string, expected: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new InvalidArgumentError(`expected ${expected}`);
  return Number(raw);
}

/** A time to live in seconds: a mistake is a usage error here, before anything is sent (the daemon checks again). */
function ttlSeconds(raw: string): number {
  const now = Date.now();
  if (expireAtOf(parseSeconds(raw), now) === undefined) throw new InvalidArgumentError(`expected ${ttlExpected(now)}`);
  return Number(raw);
}

/** KEY as given: base64 of its bytes with --key-base64, else the argument (refused if not exact UTF-8). */
function keyArg(key: string, o: { keyBase64?: boolean }): string {
  return o.keyBase64 ? keyFromBase64(key) : exactKey(key, processArgs());
}

/** A change-feed position, checked before anything is sent. */
function sincePosition(raw: string): string {
  if (parsePosition(raw) === undefined) throw new InvalidArgumentError('expected a position EPOCH:SEQ (the "pos" of an event printed with --json)');
  return raw;
}

const KEY_BASE64_HELP = 'KEY is the base64 of the key\'s UTF-8 bytes: names any key exactly (a newline, a leading -, ...)';

function program(json = false): Command {
  const cli = new Command('replikv')
    .description('Peer-to-peer replication daemon: every node keeps a full copy of a shared key-value keyspace.')
    .version(VERSION)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (s, write) => write(s) });

  const sub = (name: string) => cli.command(name).exitOverride().showHelpAfterError();
  // Every client command finds the local daemon the same way and can answer in JSON.
  const client = (name: string) =>
    sub(name)
      .option('--data-dir <dir>', "the daemon's data directory; its control socket is DIR/control.sock", './data')
      .option('--control <path>', 'the control socket itself (overrides --data-dir)')
      .option('--json', 'machine-readable JSON output');

  cli.addCommand(daemonCommand().copyInheritedSettings(cli));

  // put, del, expire, persist and import can wait until N replicas, the writer included, hold the write durably.
  const withConcern = (c: Command) =>
    c
      .option('--w <n>', 'return only once N replicas (this one included) stored the write durably; "all" = every connected peer too; more than this node knows of is refused at once', replicaCount)
      .option('--timeout <ms>', 'how long --w may wait (default 5000); on timeout: exit 3, the write is not undone; only with --w', positiveInt)
      // A timeout alone would silently do nothing: it is a usage error (exit 64).
      .hook('preAction', (self) => {
        const o = self.opts<cmd.Concern>();
        if (o.timeout !== undefined && o.w === undefined) self.error('error: --timeout needs --w (it bounds how long --w waits)', { code: 'replikv.timeoutWithoutW' });
      });

  withConcern(client('put'))
    .description('store VALUE under KEY on the local node (it then replicates to the peers)')
    .argument('<key>', 'the key (UTF-8, 1 to 1024 bytes)')
    .argument('<value>', 'the value as text (valid UTF-8), or - to read raw bytes from stdin')
    .option('--context <token>', 'supersede exactly the versions a read returned (the context from get --json)')
    .option('--key-base64', KEY_BASE64_HELP)
    .option('--ttl <seconds>', 'the value expires SECONDS after the daemon takes it (its clock, not this one\'s); a later put without --ttl lasts', ttlSeconds)
    .addHelpText(
      'after',
      '\nPrints nothing on success; with --json, the write\'s dot {"dot":{"r":REPLICA,"c":COUNTER}}, and with --ttl\n' +
        'its "expireAt" (ms since the epoch). A KEY or VALUE argument that is not valid UTF-8 is refused (exit 1):\n' +
        'use --key-base64, - (stdin) or import.\n',
    )
    .action((key: string, value: string, o: cmd.Target & cmd.Concern & { context?: string; keyBase64?: boolean; ttl?: number }) =>
      cmd.putCommand({ ...o, key: keyArg(key, o), value: value === '-' ? value : exactValue(value, processArgs()) }, io),
    );

  client('get')
    .description('print the value of KEY as raw bytes (no newline added); exit 1 if it is absent or deleted')
    .argument('<key>', 'the key')
    .option('--key-base64', KEY_BASE64_HELP)
    .addHelpText('after', '\nWith --json: {key, value|valueBase64, siblings, context}; a deleted key prints with value null.\n')
    .action((key: string, o: cmd.Target & { keyBase64?: boolean }) => cmd.getCommand({ ...o, key: keyArg(key, o) }, io));

  withConcern(client('del'))
    .description('delete KEY (a deletion replicates like a write)')
    .argument('<key>', 'the key')
    .option('--context <token>', 'delete exactly the versions a read returned (the context from get --json)')
    .option('--key-base64', KEY_BASE64_HELP)
    .action((key: string, o: cmd.Target & cmd.Concern & { context?: string; keyBase64?: boolean }) => cmd.delCommand({ ...o, key: keyArg(key, o) }, io));

  withConcern(client('expire'))
    .description("make KEY's value expire SECONDS from now, by the daemon's clock (a write that replicates like a put); exit 1 if KEY is absent")
    .argument('<key>', 'the key')
    .argument('<seconds>', 'the time to live, in whole seconds', ttlSeconds)
    .option('--key-base64', KEY_BASE64_HELP)
    .addHelpText(
      'after',
      '\nPrints "KEY expires in N s (at TIME)"; with --json {"dot", "expireAt"} (ms since the epoch).\n' +
        'Every node drops the value at that moment (within the allowed clock skew); replikv persist undoes it.\n',
    )
    .action((key: string, seconds: number, o: cmd.Target & cmd.Concern & { keyBase64?: boolean }) => cmd.expireCommand({ ...o, key: keyArg(key, o), seconds }, io));

  withConcern(client('persist'))
    .description("remove the expiry of KEY's value, so it lasts (a write that replicates like a put); exit 1 if KEY is absent")
    .argument('<key>', 'the key')
    .option('--key-base64', KEY_BASE64_HELP)
    .addHelpText(
      'after',
      '\nPrints "KEY no longer expires", or "KEY had no expiry" (exit 0, nothing written); with --json\n' +
        '{"persisted": true, "dot"} or {"persisted": false}.\n',
    )
    .action((key: string, o: cmd.Target & cmd.Concern & { keyBase64?: boolean }) => cmd.persistCommand({ ...o, key: keyArg(key, o) }, io));

  client('ttl')
    .description("print the whole seconds KEY's value lives on (rounded up), or -1 if it does not expire; exit 1 if KEY is absent or expired")
    .argument('<key>', 'the key')
    .option('--key-base64', KEY_BASE64_HELP)
    .addHelpText('after', '\nWith --json: {"key", "ttl", "ttlMs", "expireAt"} (-1, -1 and null for a value that lasts).\n')
    .action((key: string, o: cmd.Target & { keyBase64?: boolean }) => cmd.ttlCommand({ ...o, key: keyArg(key, o) }, io));

  client('scan')
    .description('list live keys in key order as KEY<TAB>VALUE lines (values as UTF-8 text; use --json for exact bytes)')
    .option('--prefix <prefix>', 'only keys starting with this prefix')
    .option('--limit <n>', 'stop after N keys (default: all of them)', positiveInt)
    .option('--after <cursor>', 'start after this key (the cursor of an earlier --json page)')
    .addHelpText('after', '\nWith --json: {"items":[{key, value|valueBase64}], "cursor": KEY to continue after, or null}.\n')
    .action((o: cmd.Target & { prefix?: string; limit?: number; after?: string }) => {
      const from = processArgs();
      if (o.prefix !== undefined) exactBound(o.prefix, '--prefix', from);
      if (o.after !== undefined) exactBound(o.after, '--after', from);
      return cmd.scanCommand(o, io);
    });

  withConcern(client('import'))
    .description('stream NDJSON records {"key": K, "value": TEXT} or {"key": K, "valueBase64": B64} into the local node; {"key": K, "value": null} deletes K')
    .argument('[file]', 'the NDJSON file, or - for stdin', '-')
    .addHelpText(
      'after',
      '\nA record may add "ttl": SECONDS (a whole number from 1): the value expires that long after the daemon reads\n' +
        'the line. A bad line stops the import; every line before it stays written, and the error names the line.\n',
    )
    .action((file: string, o: cmd.Target) => cmd.importCommand({ ...o, file }, io));

  client('wait')
    .description('wait until the local node is ready (done bootstrapping from its peers); a progress bar on a terminal')
    .option('--ready', 'wait for the state "ready" (the default, and the only condition so far)')
    .option('--timeout <ms>', 'give up after MS milliseconds: exit 1 if the node is not ready (saying how far it got), exit 2 if no daemon answered', positiveInt)
    .addHelpText('after', '\nwait may start before the daemon (replikv daemon & replikv wait --ready): until the\ntimeout (without one: forever) it keeps trying the control socket, saying once on\nstderr that it waits for a daemon.\n')
    .action((o: cmd.Target & { timeout?: number }) => cmd.waitCommand(o, io));

  client('watch')
    .description('print every change to keys as it is committed on this node, local or replicated, until SIGINT or SIGTERM')
    .option('--prefix <prefix>', 'only keys starting with this prefix')
    .option('--since <pos>', 'resume after this position (the "pos" of an event printed with --json)', sincePosition)
    .addHelpText(
      'after',
      '\nText: "KEY = VALUE  (N siblings, local|replicated)" or "KEY deleted  (...)" per change. With --json: one\n' +
        'event per line: {"type":"hello","pos"} when (re)connected, {"type":"change","pos","key","origin","deleted",\n' +
        'value|valueBase64,"siblings"}, and {"type":"missed","pos","reason"} when changes up to pos were missed (the\n' +
        'daemon restarted, or they were dropped): rescan then. If the daemon goes away, watch reconnects and resumes\n' +
        'after the last position. Expiry is no change of its own: a value that expires is not reported again.\n',
    )
    .action(async (o: cmd.Target & { prefix?: string; since?: string }) => {
      const from = processArgs();
      if (o.prefix !== undefined) exactBound(o.prefix, '--prefix', from);
      const { watchCommand } = await import('./control/watch-command.js');
      return watchCommand({ ...o, socket: cmd.socketPathOf(o) }, io);
    });

  client('status')
    .description("show the local node: version, uptime, peer id, replica id, addresses, mode, state, keys, digest and peers")
    .action((o: cmd.Target) => cmd.statusCommand(o, io));

  client('peers')
    .description('list known peers with their state, how many of our writes they lack, and when we last heard from them')
    .action((o: cmd.Target) => cmd.peersCommand(o, io));

  client('verify')
    .description("check this node's keyspace: recount its digest from every state, and compare it with each connected peer's at an equal clock")
    .addHelpText('after', '\nExit 0 when nothing is wrong, 1 when damage is found (then run replikv repair on the damaged node).\n')
    .action((o: cmd.Target) => cmd.verifyCommand(o, io));

  client('forget')
    .description('drop a peer that is gone for good (a retired machine) from this node at once; signed with an operator key, from the other nodes too')
    .argument('<peerId>', 'the PeerId to forget (see replikv peers)')
    .option('--force', 'forget it even though it is connected to this node right now')
    .option('--sign-key <file>', 'sign the forget with this operator key (replikv keygen --operator): the other nodes are told through gossip')
    .addHelpText(
      'after',
      '\nA forgotten peer is no longer dialled, passed on in peer exchange or shown in status, and is refused if it\n' +
        'connects again (for 30 days). Without --sign-key the forget stays on this node (run it on each node);\n' +
        'with it, every node configured with the key\'s public half (operatorKeys) obeys it, and nodes refuse any\n' +
        'forget no operator key signed. Peers unreachable for longer than peerGoneAfterMs (default 24 h) are dropped\n' +
        'on their own. A machine that should come back needs a new identity (an empty data directory).\n',
    )
    .action((peer: string, o: cmd.Target & { force?: boolean; signKey?: string }) => cmd.forgetCommand({ ...o, peer }, io));

  client('repair')
    .description("re-fetch the keyspace from a healthy peer into this (damaged) node, keeping writes only this node holds")
    .option('--peer <peerId>', 'the peer to repair from (default: any connected peer)')
    .addHelpText('after', '\nThe node keeps accepting writes; it reports state "recovering" and serves no peer until done.\n')
    .action((o: cmd.Target & { peer?: string }) => cmd.repairCommand(o, io));

  sub('keygen')
    .description('write a new swarm key (the pre-shared key of a private network) to FILE with mode 0600; with --operator, an operator key')
    .requiredOption('--out <file>', 'where to write the key')
    .option('--operator', 'an operator key instead (Ed25519, signs forgets: replikv forget --sign-key FILE); prints its public half for every node\'s operatorKeys')
    .option('--force', 'replace an existing file (every node then needs the new key)')
    .option('--json', 'machine-readable JSON output')
    .action((o: { out: string; force?: boolean; json?: boolean; operator?: boolean }) => cmd.keygenCommand(o, io));

  backupCommands(cli);
  // With --json the one error line is JSON (main); commander's own message and usage stay unsaid.
  if (json) {
    const quiet = (c: Command): void => {
      c.configureOutput({ outputError: () => {}, writeErr: () => {} }).showHelpAfterError(false);
      c.commands.forEach(quiet);
    };
    quiet(cli);
  }
  return cli;
}

function backupType(raw: string): BackupType {
  if (!(BACKUP_TYPES as readonly string[]).includes(raw)) throw new InvalidArgumentError(`expected one of ${BACKUP_TYPES.join(', ')}`);
  return raw as BackupType;
}

/** backup create|list|verify|prune and restore. */
function backupCommands(cli: Command): void {
  const backup = cli.command('backup').description('back up the keyspace of the local daemon into a repository, and manage the repository').exitOverride();
  const sub = (name: string) =>
    backup
      .command(name)
      .exitOverride()
      .showHelpAfterError()
      .requiredOption('--repo <dir>', 'the backup repository')
      .option('--json', 'machine-readable JSON output');
  const keyFile = (c: Command) => c.option('--key-file <file>', 'a file holding the passphrase of an encrypted repository');

  keyFile(sub('create'))
    .description('take a backup of the running daemon from one consistent snapshot (the daemon keeps running)')
    .requiredOption('--type <type>', 'full (everything), incremental (changes since the newest backup) or differential (changes since the newest full one)', backupType)
    .option('--data-dir <dir>', "the daemon's data directory; its control socket is DIR/control.sock", './data')
    .option('--control <path>', 'the control socket itself (overrides --data-dir)')
    .addHelpText('after', '\nCreates the repository if DIR does not exist or is empty; with --key-file it is encrypted (AES-256-GCM).\nOnly a full backup creates one: an incremental or differential one there is refused (exit 1), creating nothing.\n')
    .action(async (o: cmd.Target & RepoOptions & { type: BackupType }) => (await backups()).backupCreateCommand(o, io));

  sub('list')
    .description('list the backups: id, type, parent, time, live keys, changed keys, stored size')
    .addHelpText('after', '\nWith --json: [{id, type, parent, time, keys, bytes}].\n')
    .action(async (o: RepoOptions) => (await backups()).backupListCommand(o, io));

  keyFile(sub('verify'))
    .description("check every chunk (hash; with the key also decryption and decoding) and every backup's chain")
    .option('--id <id>', 'check only this backup and the backups it builds on')
    .action(async (o: RepoOptions & { id?: string }) => (await backups()).backupVerifyCommand(o, io));

  sub('prune')
    .description('delete all but the N newest full backups, with the backups built on the deleted ones')
    .requiredOption('--keep-full <n>', 'full backups to keep', positiveInt)
    .action(async (o: RepoOptions & { keepFull: number }) => (await backups()).backupPruneCommand(o, io));

  keyFile(cli.command('restore').exitOverride().showHelpAfterError())
    .description('build a new data directory from a backup chain (no daemon needed); the restored node gets a fresh replica id')
    .requiredOption('--repo <dir>', 'the backup repository')
    .requiredOption('--data-dir <dir>', 'the new data directory (must not exist, or be empty)')
    .option('--until <id>', 'restore up to this backup (default: the newest)')
    .option('--json', 'machine-readable JSON output')
    .action(async (o: RepoOptions & { dataDir: string; until?: string }) => (await backups()).restoreCommand(o, io));
}

export async function main(argv: string[]): Promise<number> {
  const json = wantsJson(argv);
  try {
    await program(json).parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    const fail = (exit: number, e: { message: string; code: string }) => (process.stderr.write(errorLine(e.message, e.code, json)), exit);
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      if (err.code === 'commander.help') {
        // `replikv help` is asked for; `replikv` or `replikv backup` alone is a usage error.
        if (err.exitCode === 0) return EXIT.ok;
        return json ? fail(EXIT.usage, { message: 'no command given (run with --help for usage)', code: 'USAGE' }) : EXIT.usage;
      }
      // Without --json commander has already printed the message and the usage.
      return json ? fail(EXIT.usage, { message: err.message.replace(/^error: /, ''), code: 'USAGE' }) : EXIT.usage;
    }
    if (err instanceof ConfigError) return fail(EXIT.config, err);
    if (err instanceof StoreError || err instanceof DaemonUnavailableError) return fail(EXIT.unavailable, err);
    if (err instanceof RequestError && err.code === 'WRITE_CONCERN') return fail(EXIT.concern, err);
    if (err instanceof ResourceError) return fail(EXIT.resource, err);
    if (err instanceof DamagedBackupError || err instanceof WrongKeyError) return fail(EXIT.damaged, err);
    if (err instanceof ReplikvError) return fail(EXIT.error, err);
    const e = err instanceof Error ? err : new Error(String(err));
    return json ? fail(EXIT.error, { message: `unexpected error: ${e.message}`, code: 'INTERNAL' }) : fail(EXIT.error, { message: `unexpected error: ${e.stack ?? e.message}`, code: 'INTERNAL' });
  }
}
