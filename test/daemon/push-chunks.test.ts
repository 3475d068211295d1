// Active push of one big write: an MSET of 70,000 keys over the Redis protocol is one write of the
// keyspace, and it must go to peers as pushes within the frame limits, not as one frame a peer
// refuses as malformed (counted against the writer as if it were hostile).
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet, untilConnected, untilConverged, type TestDaemon } from '../helpers/daemons.js';
import { respPort } from '../helpers/redis.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(30));
  await fleet.cleanup();
});

describe('active push of a big write', () => {
  it('an MSET of 70,000 keys reaches the peer by push, and the peer refuses no frame', async () => {
    // Push mode: sync rounds run only as a backstop, so the keys must come by push.
    const [a, b] = (await fleet.cluster(2, { mode: 'push', extra: ['--resp', '127.0.0.1:0'] })) as [TestDaemon, TestDaemon];
    await untilConnected([a, b]);
    const redis = new Redis({ host: '127.0.0.1', port: await respPort(a), maxRetriesPerRequest: 0 });
    try {
      const pairs = new Map<string, string>();
      for (let i = 0; i < 70_000; i++) pairs.set(`k/${i}`, `value of ${i}`);
      expect(await redis.mset(pairs)).toBe('OK');
    } finally {
      redis.disconnect();
    }
    const [, sb] = await untilConverged([a, b], 70_000, 120_000);
    expect(sb!.refused).toEqual({ frames: 0, claimsCut: 0, forgets: 0, frontiers: 0 });
    expect(b.child.stderr()).not.toContain('exceed the limit');
  });
});
