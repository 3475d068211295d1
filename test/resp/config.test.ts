// The resp settings: HOST:PORT forms, what counts as loopback, and a reachable listener refused
// without a password before anything starts.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';
import { isLoopback, parseHostPort } from '../../src/net/host-port.js';

describe('resp address', () => {
  it('parses HOST:PORT and [IPv6]:PORT, and says what is wrong otherwise', () => {
    expect(parseHostPort('127.0.0.1:6379')).toEqual({ host: '127.0.0.1', port: 6379 });
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseHostPort('localhost:7000')).toEqual({ host: 'localhost', port: 7000 });
    expect(parseHostPort('6379')).toMatch(/expected HOST:PORT/);
    expect(parseHostPort('::1:6379')).toMatch(/expected HOST:PORT/);
    expect(parseHostPort('host:70000')).toMatch(/the port must be 0 to 65535/);
    expect(parseHostPort('[nothex]:1')).toMatch(/expected HOST:PORT|not an IPv6/);
  });

  it('knows loopback from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopback(h)).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1']) expect(isLoopback(h)).toBe(false);
  });
});

describe('resp config', () => {
  it('is off by default; a loopback listener needs no password; any other one does', () => {
    expect(loadConfig(undefined).resp).toBeNull();
    expect(loadConfig(undefined, { resp: '127.0.0.1:0' }).resp).toBe('127.0.0.1:0');
    expect(() => loadConfig(undefined, { resp: '0.0.0.0:6379' })).toThrow(ConfigError);
    expect(() => loadConfig(undefined, { resp: '0.0.0.0:6379' })).toThrow(/no respPassword is set/);
    expect(loadConfig(undefined, { resp: '0.0.0.0:6379', respPassword: 'pw' }).respPassword).toBe('pw');
    expect(() => loadConfig(undefined, { resp: 'nonsense' })).toThrow(/resp: "nonsense" is not an address: expected HOST:PORT/);
    expect(() => loadConfig(undefined, { resp: '127.0.0.1:1', respPassword: '' })).toThrow(/respPassword/);
  });
});
