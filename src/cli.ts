#!/usr/bin/env node
// The replikv command line. Commands are thin: parse, call a function, map typed errors to exit
// codes (64 usage, 78 configuration, 2 store or daemon unreachable, 3 write concern not met,
// 4 a damaged backup or a wrong key, 75 a data directory or address in use or unwritable, 1 anything else).

import './polyfill.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { DaemonUnavailableError, RequestError } from './control/client.js';
import * as cmd from './control/commands.js';
import { backupCreateCommand, backupListCommand, backupPruneCommand, backupVerifyCommand, restoreCommand, type RepoOptions } from './backup/commands.js';
import { DamagedBackupError, WrongKeyError } from './backup/errors.js';
import { BACKUP_TYPES, type BackupType } from './backup/manifest.js';
import { daemonCommand } from './daemon-command.js';
import { ConfigError, ReplikvError, ResourceError, StoreError } from './errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const EXIT = { ok: 0, error: 1, unavailable: 2, concern: 3, damaged: 4, usage: 64, resource: 75, config: 78 } as const;

const io: cmd.Io = { stdin: process.stdin, stdout: process.stdout };

function replicaCount(raw: string): number | 'all' {
  return raw === 'all' ? 'all' : positiveInt(raw);
}

function positiveInt(raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new InvalidArgumentError('expected a positive integer');
  return Number(raw);
}

function program(): Command {
  const cli = new Command('replikv')
    .description('Peer-to-peer replication daemon: every node keeps a full copy of a shared key-value keyspace.')
    .version(pkg.version)
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

  // put, del and import can wait until N replicas, the writer included, hold the write durably.
  const withConcern = (c: Command) =>
    c
      .option('--w <n>', 'return only once N replicas (this one included) stored the write durably; "all" = every connected peer too', replicaCount)
      .option('--timeout <ms>', 'how long --w may wait (default 5000); on timeout: exit 3, the write is not undone', positiveInt);

  withConcern(client('put'))
    .description('store VALUE under KEY on the local node (it then replicates to the peers)')
    .argument('<key>', 'the key (UTF-8, 1 to 1024 bytes)')
    .argument('<value>', 'the value as text, or - to read raw bytes from stdin')
    .option('--context <token>', 'supersede exactly the versions a read returned (the context from get --json)')
    .addHelpText('after', '\nPrints nothing on success; with --json, the write\'s dot {"dot":{"r":REPLICA,"c":COUNTER}}.\n')
    .action((key: string, value: string, o: cmd.Target & cmd.Concern & { context?: string }) => cmd.putCommand({ ...o, key, value }, io));

  client('get')
    .description('print the value of KEY as raw bytes (no newline added); exit 1 if it is absent or deleted')
    .argument('<key>', 'the key')
    .addHelpText('after', '\nWith --json: {key, value|valueBase64, siblings, context}; a deleted key prints with value null.\n')
    .action((key: string, o: cmd.Target) => cmd.getCommand({ ...o, key }, io));

  withConcern(client('del'))
    .description('delete KEY (a deletion replicates like a write)')
    .argument('<key>', 'the key')
    .option('--context <token>', 'delete exactly the versions a read returned (the context from get --json)')
    .action((key: string, o: cmd.Target & cmd.Concern & { context?: string }) => cmd.delCommand({ ...o, key }, io));

  client('scan')
    .description('list live keys in key order as KEY<TAB>VALUE lines (values as UTF-8 text; use --json for exact bytes)')
    .option('--prefix <prefix>', 'only keys starting with this prefix')
    .option('--limit <n>', 'stop after N keys (default: all of them)', positiveInt)
    .option('--after <cursor>', 'start after this key (the cursor of an earlier --json page)')
    .addHelpText('after', '\nWith --json: {"items":[{key, value|valueBase64}], "cursor": KEY to continue after, or null}.\n')
    .action((o: cmd.Target & { prefix?: string; limit?: number; after?: string }) => cmd.scanCommand(o, io));

  withConcern(client('import'))
    .description('stream NDJSON records {"key": K, "value": TEXT} or {"key": K, "valueBase64": B64} into the local node')
    .argument('[file]', 'the NDJSON file, or - for stdin', '-')
    .addHelpText('after', '\nA bad line stops the import; every line before it stays written, and the error names the line.\n')
    .action((file: string, o: cmd.Target) => cmd.importCommand({ ...o, file }, io));

  client('wait')
    .description('wait until the local node is ready (done bootstrapping from its peers); a progress bar on a terminal')
    .option('--ready', 'wait for the state "ready" (the default, and the only condition so far)')
    .option('--timeout <ms>', 'give up after MS milliseconds: exit 1, saying how far the node got', positiveInt)
    .action((o: cmd.Target & { timeout?: number }) => cmd.waitCommand(o, io));

  client('status')
    .description("show the local node: peer id, replica id, addresses, mode, state, keys, digest and peers")
    .action((o: cmd.Target) => cmd.statusCommand(o, io));

  client('peers')
    .description('list known peers with their state, how many of our writes they lack, and when we last heard from them')
    .action((o: cmd.Target) => cmd.peersCommand(o, io));

  client('verify')
    .description("check this node's keyspace: recount its digest from every state, and compare it with each connected peer's at an equal clock")
    .addHelpText('after', '\nExit 0 when nothing is wrong, 1 when damage is found (then run replikv repair on the damaged node).\n')
    .action((o: cmd.Target) => cmd.verifyCommand(o, io));

  client('repair')
    .description("re-fetch the keyspace from a healthy peer into this (damaged) node, keeping writes only this node holds")
    .option('--peer <peerId>', 'the peer to repair from (default: any connected peer)')
    .addHelpText('after', '\nThe node keeps accepting writes; it reports state "recovering" and serves no peer until done.\n')
    .action((o: cmd.Target & { peer?: string }) => cmd.repairCommand(o, io));

  sub('keygen')
    .description('write a new swarm key (the pre-shared key of a private network) to FILE with mode 0600')
    .requiredOption('--out <file>', 'where to write the key')
    .option('--force', 'replace an existing file (every node then needs the new key)')
    .option('--json', 'machine-readable JSON output')
    .action((o: { out: string; force?: boolean; json?: boolean }) => cmd.keygenCommand(o, io));

  backupCommands(cli);
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
    .addHelpText('after', '\nCreates the repository if DIR does not exist or is empty; with --key-file it is encrypted (AES-256-GCM).\n')
    .action((o: cmd.Target & RepoOptions & { type: BackupType }) => backupCreateCommand(o, io));

  sub('list')
    .description('list the backups: id, type, parent, time, live keys, changed keys, stored size')
    .addHelpText('after', '\nWith --json: [{id, type, parent, time, keys, bytes}].\n')
    .action((o: RepoOptions) => backupListCommand(o, io));

  keyFile(sub('verify'))
    .description("check every chunk (hash; with the key also decryption and decoding) and every backup's chain")
    .option('--id <id>', 'check only this backup and the backups it builds on')
    .action((o: RepoOptions & { id?: string }) => backupVerifyCommand(o, io));

  sub('prune')
    .description('delete all but the N newest full backups, with the backups built on the deleted ones')
    .requiredOption('--keep-full <n>', 'full backups to keep', positiveInt)
    .action((o: RepoOptions & { keepFull: number }) => backupPruneCommand(o, io));

  keyFile(cli.command('restore').exitOverride().showHelpAfterError())
    .description('build a new data directory from a backup chain (no daemon needed); the restored node gets a fresh replica id')
    .requiredOption('--repo <dir>', 'the backup repository')
    .requiredOption('--data-dir <dir>', 'the new data directory (must not exist, or be empty)')
    .option('--until <id>', 'restore up to this backup (default: the newest)')
    .option('--json', 'machine-readable JSON output')
    .action((o: RepoOptions & { dataDir: string; until?: string }) => restoreCommand(o, io));
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.config;
    }
    if (err instanceof StoreError || err instanceof DaemonUnavailableError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.unavailable;
    }
    if (err instanceof RequestError && err.code === 'WRITE_CONCERN') {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.concern;
    }
    if (err instanceof ResourceError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.resource;
    }
    if (err instanceof DamagedBackupError || err instanceof WrongKeyError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.damaged;
    }
    if (err instanceof ReplikvError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.error;
    }
    process.stderr.write(`replikv: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.error;
  }
}

// A reader that stops early (`replikv scan | head`) closes the pipe: that ends the output, not in
// a crash with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
