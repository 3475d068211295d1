#!/usr/bin/env node
// The replikv command line. Commands are thin: parse, call a function, map typed errors to exit
// codes (64 usage, 78 configuration, 2 store or daemon unreachable, 1 anything else).

import './polyfill.js';
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { loadConfig } from './config.js';
import { runDaemon } from './daemon.js';
import { ConfigError, ReplikvError, StoreError } from './errors.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

export const EXIT = { ok: 0, error: 1, unavailable: 2, usage: 64, config: 78 } as const;

function program(): Command {
  const cli = new Command('replikv')
    .description('Peer-to-peer replication daemon: every node keeps a full copy of a shared key-value keyspace.')
    .version(pkg.version)
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ outputError: (s, write) => write(s) });

  const sub = (name: string) => cli.command(name).exitOverride().showHelpAfterError();

  sub('daemon')
    .description('run the replikv daemon for this machine (until SIGINT or SIGTERM)')
    .option('--config <file>', 'JSON config file (see config/default.json)')
    .option('--data-dir <dir>', 'data directory (overrides the config file)')
    .addOption(new Option('--durability <mode>', 'strict (synced before ack) or relaxed (synced within 1 s)').choices(['strict', 'relaxed']))
    .action(async (opts: { config?: string; dataDir?: string; durability?: 'strict' | 'relaxed' }) => {
      const config = loadConfig(opts.config, { dataDir: opts.dataDir, durability: opts.durability });
      await runDaemon(config, (line) => process.stderr.write(line + '\n'));
    });

  return cli;
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
    if (err instanceof StoreError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.unavailable;
    }
    if (err instanceof ReplikvError) {
      process.stderr.write(`replikv: ${err.message}\n`);
      return EXIT.error;
    }
    process.stderr.write(`replikv: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT.error;
  }
}

process.exitCode = await main(process.argv.slice(2));
