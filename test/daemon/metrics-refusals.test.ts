// Refusals as metrics: a hostile peer (a real libp2p node) sends a frame that is no message, and
// then, once forgotten, tries again: replikv_peer_messages_refused_total counts each under its
// reason, in step with status.refused.
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { SYNC_PROTOCOL } from '../../src/sync/messages.js';
import { frame, pushFrom, withHostile } from '../helpers/hostile.js';
import { metricsAddr, scrape, value } from '../helpers/metrics.js';
import { eventually } from '../helpers/process.js';

const { fleet, hostile } = withHostile(15);

describe('refusals in the metrics', () => {
  it('a frame that is no message counts under its reason, a forgotten peer under forgotten_peer', async () => {
    const a = await fleet.start({ extra: ['--metrics', '127.0.0.1:0'] });
    const addr = await metricsAddr(a);
    const h = await hostile();
    expect(await pushFrom(h, a.addr, frame(Uint8Array.from([0xee, 1, 2, 3])))).toBe('refused');
    const refusedFrames = (s: Awaited<ReturnType<typeof scrape>>) =>
      value(s, 'replikv_peer_messages_refused_total', { reason: 'decode' })! + value(s, 'replikv_peer_messages_refused_total', { reason: 'protocol' })!;
    const s1 = await eventually(() => scrape(addr), (s) => refusedFrames(s) === 1, 'the refused frame in the metrics');
    expect(refusedFrames(s1)).toBe((await a.status()).refused.frames);

    const forgot = await a.cli('forget', h.peerId.toString(), '--force');
    expect(forgot.code, forgot.stderr).toBe(0);
    await h.dialProtocol(multiaddr(a.addr), SYNC_PROTOCOL).then(
      (s) => s.abort(new Error('done')),
      () => undefined, // refused: the point
    );
    await eventually(() => scrape(addr), (s) => value(s, 'replikv_peer_messages_refused_total', { reason: 'forgotten_peer' })! >= 1, 'the forgotten peer refused in the metrics');
  }, 120_000);
});
