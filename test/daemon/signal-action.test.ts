// What each signal does to the daemon (the pure decision behind its handlers).
import { describe, expect, it } from 'vitest';
import { signalAction } from '../../src/daemon.js';

describe('signalAction', () => {
  it('stops on the first SIGINT or SIGTERM and exits at once on a second', () => {
    for (const s of ['SIGINT', 'SIGTERM'] as const) {
      expect(signalAction(s, false)).toBe('stop');
      expect(signalAction(s, true)).toBe('exit now');
    }
  });

  it('ignores SIGHUP, stopping or not', () => {
    expect(signalAction('SIGHUP', false)).toBe('ignore');
    expect(signalAction('SIGHUP', true)).toBe('ignore');
  });
});
