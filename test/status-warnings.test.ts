// The status warnings (src/status-warnings.ts): each fact an operator must act on gives one line
// that names the peer and what to do; none when all is well.
import { describe, expect, it } from 'vitest';
import { statusWarnings, type WarningFacts } from '../src/status-warnings.js';

const WELL: WarningFacts = { aloneSeconds: null, unreachedSeconds: null, refusingPeers: [], forgottenBy: null, refusedAsGone: null, behind: [] };

describe('statusWarnings', () => {
  it('says nothing when all is well', () => {
    expect(statusWarnings(WELL)).toEqual([]);
  });

  it('names a peer whose GC frontier is not believed, and the command that takes its word', () => {
    const [w] = statusWarnings({ ...WELL, behind: [{ peer: 'P1', lacking: 2 }] });
    expect(w).toContain('peer P1 says it collected 2 writes this node never received: not believed');
    expect(w).toContain('replikv repair --peer P1');
  });

  it('a peer that declared this node gone is said once, as gone, not also as a frontier not believed', () => {
    const out = statusWarnings({ ...WELL, refusedAsGone: { peer: 'P1', since: 0 }, behind: [{ peer: 'P1', lacking: 5 }, { peer: 'P2', lacking: 1 }] });
    expect(out).toHaveLength(2);
    expect(out[0]).toContain('re-bootstrap');
    expect(out[1]).toContain('peer P2');
  });

  it('each fact gives its own line', () => {
    const out = statusWarnings({ aloneSeconds: 40, unreachedSeconds: 12, refusingPeers: ['A', 'B'], forgottenBy: { peer: 'C', at: 0 }, refusedAsGone: null, behind: [] });
    expect(out).toHaveLength(4);
    expect(out[2]).toContain('peer A, B');
    expect(out[3]).toContain('passed on by peer C');
  });
});
