// libp2p's listen failure, read into one line with the address and the reason.
import { describe, expect, it } from 'vitest';
import { listenFailure } from '../../src/net/listen-error.js';

const libp2p = (lines: string[]) =>
  'Some configured addresses failed to be listened on, you may need to remove one or more listen addresses from your configuration or set `transportManager.faultTolerance` to NO_FATAL:\n' +
  lines.map((l) => `  ${l}\n      at Server.setupListenHandle [as _listen2] (node:net:1908:16)`).join('\n');

describe('listenFailure', () => {
  it('names an address in use and classes it as busy', () => {
    const f = listenFailure(libp2p(['/ip4/127.0.0.1/tcp/7400: Error: listen EADDRINUSE: address already in use 127.0.0.1:7400']), ['/ip4/127.0.0.1/tcp/7400']);
    expect(f).toEqual({ message: 'cannot listen on /ip4/127.0.0.1/tcp/7400 (address already in use)', kind: 'busy' });
  });

  it('classes an address that is not this machine as configuration', () => {
    const f = listenFailure(libp2p(['/ip4/10.1.2.3/tcp/0: Error: listen EADDRNOTAVAIL: address not available 10.1.2.3']), ['/ip4/10.1.2.3/tcp/0']);
    expect(f.kind).toBe('config');
    expect(f.message).toBe('cannot listen on /ip4/10.1.2.3/tcp/0 (no such address on this machine)');
  });

  it('lists every failed address; mixed reasons are neither busy nor configuration', () => {
    const f = listenFailure(
      libp2p(['/ip4/127.0.0.1/tcp/1: Error: listen EADDRINUSE: x', '/ip4/10.1.2.3/tcp/0: Error: listen EADDRNOTAVAIL: y']),
      ['/ip4/127.0.0.1/tcp/1', '/ip4/10.1.2.3/tcp/0'],
    );
    expect(f.message).toBe('cannot listen on /ip4/127.0.0.1/tcp/1 (address already in use), /ip4/10.1.2.3/tcp/0 (no such address on this machine)');
    expect(f.kind).toBe('other');
  });

  it('falls back to the first line of a message it cannot read', () => {
    expect(listenFailure('something odd\n  at x', ['/ip4/127.0.0.1/tcp/1'])).toEqual({ message: 'cannot listen on /ip4/127.0.0.1/tcp/1: something odd', kind: 'other' });
  });
});
