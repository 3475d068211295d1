// Pure parts of the CLI's output: the error line (text or JSON), the uptime in status, and the
// check that refuses a write concern no known set of replicas can meet.
import { describe, expect, it } from 'vitest';
import { checkConcern } from '../../src/control/concern-check.js';
import { formatStatus, formatUptime } from '../../src/control/commands.js';
import { errorLine, wantsJson } from '../../src/control/error-output.js';
import { IDLE_GC } from '../helpers/status.js';

describe('error output', () => {
  it('is JSON only when --json comes before any --', () => {
    expect(wantsJson(['get', 'k', '--json'])).toBe(true);
    expect(wantsJson(['get', 'k'])).toBe(false);
    expect(wantsJson(['put', '--', 'k', '--json'])).toBe(false);
  });

  it('writes one line: replikv: MESSAGE, or {"error","code"}', () => {
    expect(errorLine('not found: k', 'NOT_FOUND', false)).toBe('replikv: not found: k\n');
    const line = errorLine('bad "thing"\nhere', 'USAGE', true);
    expect(line.endsWith('\n') && line.indexOf('\n') === line.length - 1).toBe(true);
    expect(JSON.parse(line)).toEqual({ error: 'bad "thing"\nhere', code: 'USAGE' });
  });
});

describe('formatUptime', () => {
  it('shows the largest units first and leaves zeros out', () => {
    expect(formatUptime(0)).toBe('0s');
    expect(formatUptime(59)).toBe('59s');
    expect(formatUptime(60)).toBe('1m');
    expect(formatUptime(3725)).toBe('1h 2m 5s');
    expect(formatUptime(90061)).toBe('1d 1h 1m 1s');
    expect(formatUptime(2 * 86400)).toBe('2d');
  });

  it('appears in the status table with the version', () => {
    const text = formatStatus({
      version: '1.2.3', uptimeSeconds: 3725, peerId: 'P', replicaId: 'R', addrs: [], mode: 'push', state: 'ready', keys: 0, digest: 'D',
      clock: {} as never, peers: [], transfer: { bytesReceived: 0, bytesSent: 0, keysReceived: 0 }, refused: { frames: 0, claimsCut: 0, forgets: 0, frontiers: 0 }, ...IDLE_GC, warnings: [],
    });
    expect(text).toMatch(/^version\s+1\.2\.3$/m);
    expect(text).toMatch(/^uptime\s+1h 2m 5s$/m);
  });
});

describe('checkConcern', () => {
  it('accepts up to this node plus its known peers, and all', () => {
    expect(() => checkConcern(1, 0)).not.toThrow();
    expect(() => checkConcern(3, 2)).not.toThrow();
    expect(() => checkConcern('all', 0)).not.toThrow();
  });

  it('refuses more, saying how many the node knows', () => {
    expect(() => checkConcern(5, 2)).toThrow('--w 5 asks for more replicas than the 3 this node knows (itself and 2 peers)');
    expect(() => checkConcern(3, 1)).toThrow('(itself and 1 peer)');
    expect(() => checkConcern(2, 0)).toThrow(expect.objectContaining({ code: 'CONCERN_UNATTAINABLE', message: expect.stringContaining('the 1 this node knows (itself alone)') }));
  });
});
