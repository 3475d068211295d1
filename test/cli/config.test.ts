// Every config file we ship validates, and bad values are refused naming the field.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { closest } from '../../src/suggest.js';

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : []));

describe('configuration', () => {
  it.each(files('config'))('%s is valid', (file) => {
    const c = loadConfig(file);
    expect(c.listen.length).toBeGreaterThan(0);
    expect(c.control).toMatch(/control\.sock$/);
  });

  it('has the documented defaults', () => {
    const c = loadConfig(undefined, { dataDir: '/tmp/x' });
    expect(c).toMatchObject({
      dataDir: '/tmp/x',
      listen: ['/ip4/0.0.0.0/tcp/7400'],
      mode: 'hybrid',
      gossipIntervalMs: 1000,
      durability: 'strict',
      identity: '/tmp/x/identity.key',
      control: '/tmp/x/control.sock',
      swarmKey: null,
    });
  });

  it('lets flags override the file, and refuses bad values by name', () => {
    expect(loadConfig('config/default.json', { mode: 'pull', listen: ['/ip4/127.0.0.1/tcp/1'] })).toMatchObject({ mode: 'pull', listen: ['/ip4/127.0.0.1/tcp/1'] });
    expect(() => loadConfig(undefined, { listen: ['not-an-addr'] })).toThrow(/listen\.0: not a valid multiaddr/);
    expect(() => loadConfig(undefined, { bootstrap: ['/ip4/1.2.3.4/tcp/99999999'] })).toThrow(ConfigError);
    expect(() => loadConfig(undefined, { listen: ['/ip4/127.0.0.1/tcp/204011'] })).toThrow(/listen\.0: not a valid multiaddr: .*65535/);
    expect(() => loadConfig(undefined, { gossipIntervalMs: 0 })).toThrow(/gossipIntervalMs/);
    expect(() => loadConfig(undefined, { mode: 'sideways' as never })).toThrow(/mode/);
    expect(loadConfig(undefined, { operatorKeys: ['ab'.repeat(32)] }).operatorKeys).toEqual(['ab'.repeat(32)]);
    expect(() => loadConfig(undefined, { operatorKeys: ['ab'.repeat(31)] })).toThrow(/operatorKeys\.0: an operator public key is 64 hex characters/);
  });

  it('suggests the field a misspelt one probably meant, and nothing for a name far from every field', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'replikv-config-')), 'c.json');
    writeFileSync(file, JSON.stringify({ gossipInterval: 500, durabilty: 'relaxed', colour: 'blue' }));
    expect(() => loadConfig(file)).toThrow(/did you mean gossipInterval -> gossipIntervalMs, durabilty -> durability\?\)/);
  });
});

describe('closest', () => {
  const fields = ['dataDir', 'durability', 'gossipIntervalMs', 'gcGraceMs', 'gcIntervalMs', 'listen', 'resp', 'respPassword'];
  it.each([
    ['datadir', 'dataDir'],
    ['gossipInterval', 'gossipIntervalMs'],
    ['gcGrace', 'gcGraceMs'],
    ['lisetn', 'listen'],
    ['respPasword', 'respPassword'],
  ])('%s -> %s', (given, meant) => expect(closest(given, fields)).toBe(meant));
  it.each(['colour', 'x', 'metricsPort', 'bootstrapPeers'])('%s -> nothing', (given) => expect(closest(given, fields)).toBeUndefined());
});
