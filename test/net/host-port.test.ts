// The metrics address: HOST:PORT parsed and checked, as config validation uses it.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { formatHostPort, isLoopback, parseHostPort } from '../../src/net/host-port.js';

describe('metrics address', () => {
  it('takes IPv4, bracketed IPv6 and host names with a port from 0 to 65535', () => {
    expect(parseHostPort('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseHostPort('[::1]:9464')).toEqual({ host: '::1', port: 9464 });
    expect(parseHostPort('0.0.0.0:65535')).toEqual({ host: '0.0.0.0', port: 65535 });
    expect(parseHostPort('localhost:9464')).toEqual({ host: 'localhost', port: 9464 });
    expect(parseHostPort('metrics.example-1.org:80')).toEqual({ host: 'metrics.example-1.org', port: 80 });
  });

  it('refuses anything else with a reason', () => {
    for (const bad of ['127.0.0.1', ':9464', '127.0.0.1:', '127.0.0.1:65536', '127.0.0.1:99999', '::1:9464', '[127.0.0.1]:80', '[::1]', 'a b:80', '-host:80', 'host:-1', 'host:1e3', '']) {
      expect(typeof parseHostPort(bad), bad).toBe('string');
    }
    expect(parseHostPort('127.0.0.1:70000')).toBe('"127.0.0.1:70000": the port must be 0 to 65535');
  });

  it('tells loopback addresses from wider ones, and prints IPv6 in brackets', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost']) expect(isLoopback(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', 'example.org']) expect(isLoopback(h), h).toBe(false);
    expect(formatHostPort({ host: '::1', port: 9 })).toBe('[::1]:9');
    expect(formatHostPort({ host: '127.0.0.1', port: 9 })).toBe('127.0.0.1:9');
  });

  it('is off by default in the config, and a bad one is refused naming the field', () => {
    expect(loadConfig(undefined, {}).metrics).toBeNull();
    expect(loadConfig(undefined, { metrics: '127.0.0.1:0' }).metrics).toBe('127.0.0.1:0');
    expect(() => loadConfig(undefined, { metrics: 'nowhere' })).toThrow(/metrics: "nowhere" is not an address: expected HOST:PORT/);
  });
});
