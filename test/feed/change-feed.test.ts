// The change feed on real keyspaces (in memory): what is reported, from where, and that a watcher
// that stops reading costs bounded memory and never holds a write back.
import { describe, expect, it } from 'vitest';
import { Clock } from '../../src/core/clock.js';
import { stableClock } from '../../src/core/gc.js';
import { ChangeFeed, DEFAULT_FEED_LIMITS, type FeedMessage, type WatchSink } from '../../src/feed/change-feed.js';
import { toWatchEvent } from '../../src/control/watch-route.js';
import { Keyspace } from '../../src/store/keyspace.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import type { WatchEvent } from '../../src/control/wire.js';

const NOW = 1_000_000;
const open = async () => {
  const ks = await Keyspace.open(new MemoryBackend(), { now: () => NOW });
  const feed = new ChangeFeed();
  ks.onChange = (b) => feed.record(b);
  return { ks, feed };
};

/** A sink that takes everything, or (open false) reports the reader as behind after each event. */
class Sink implements WatchSink {
  events: WatchEvent[] = [];
  ended = false;
  constructor(
    private readonly feed: ChangeFeed,
    public open = true,
  ) {}
  send(ev: FeedMessage): boolean {
    this.events.push(toWatchEvent(ev, this.feed.epoch, 1 << 20, NOW));
    return this.open;
  }
  end(): void {
    this.ended = true;
  }
  changes() {
    return this.events.filter((e) => e.type === 'change');
  }
}

describe('the change feed', () => {
  it('reports local writes and deletes after they commit, with value, siblings and positions', async () => {
    const { ks, feed } = await open();
    const sink = new Sink(feed);
    feed.watch(Buffer.from('a:'), undefined, sink);
    expect(sink.events).toEqual([{ type: 'hello', pos: `${feed.epoch}:0` }]);
    await ks.put('a:1', Buffer.from('one'));
    await ks.put('b:1', Buffer.from('other'));
    await ks.del('a:1');
    await ks.put('a:2', Buffer.from([0xff, 0x00]));
    const ch = sink.changes();
    expect(ch.map((e) => [e.key, e.pos, e.deleted, e.origin])).toEqual([
      ['a:1', `${feed.epoch}:1`, false, 'local'],
      ['a:1', `${feed.epoch}:3`, true, 'local'],
      ['a:2', `${feed.epoch}:4`, false, 'local'],
    ]);
    expect(ch[0]).toMatchObject({ value: 'one', siblings: [{ value: 'one', deleted: false, counter: 1 }] });
    expect(ch[1]).toMatchObject({ value: null, siblings: [{ value: null, deleted: true }] });
    expect(ch[2]).toMatchObject({ valueBase64: Buffer.from([0xff, 0]).toString('base64') });
  });

  it('reports merged deltas as replicated, with concurrent siblings, and nothing for a delta that changes nothing', async () => {
    const a = await open();
    const b = await open();
    await a.ks.put('k', Buffer.from('from a'));
    await b.ks.put('k', Buffer.from('from b'));
    const sink = new Sink(b.feed);
    b.feed.watch(Buffer.alloc(0), undefined, sink);
    for (const chunk of a.ks.delta(b.ks.summary().clock)) await b.ks.applyDelta(chunk);
    for (const chunk of a.ks.delta(Clock.empty())) await b.ks.applyDelta(chunk); // again: nothing new
    const ch = sink.changes();
    expect(ch).toHaveLength(1);
    expect(ch[0]).toMatchObject({ key: 'k', origin: 'replicated', deleted: false });
    expect(ch[0]!.siblings.map((s) => s.value).sort()).toEqual(['from a', 'from b']);
  });

  it('does not report garbage collection (nothing a read sees changes)', async () => {
    const { ks, feed } = await open();
    await ks.put('k', Buffer.from('v'));
    await ks.del('k');
    const sink = new Sink(feed);
    feed.watch(Buffer.alloc(0), undefined, sink);
    const stable = stableClock(ks.summary().clock, []);
    const r = await ks.collectGarbage(stable);
    expect(r.keys).toBe(1);
    expect(sink.changes()).toEqual([]);
  });

  it('records nothing until someone watches: a resume from before then is told it missed changes', async () => {
    const { ks, feed } = await open();
    await ks.put('k1', Buffer.from('v'));
    await ks.put('k2', Buffer.from('v'));
    expect(feed.head.seq).toBe(2);
    const sink = new Sink(feed);
    feed.watch(Buffer.alloc(0), { epoch: feed.epoch, seq: 1 }, sink);
    expect(sink.events).toEqual([
      { type: 'hello', pos: `${feed.epoch}:2` },
      { type: 'missed', pos: `${feed.epoch}:2`, reason: 'evicted' },
    ]);
  });

  it('resumes after a position still held: exactly the changes after it, then live ones', async () => {
    const { ks, feed } = await open();
    const first = new Sink(feed);
    const w = feed.watch(Buffer.alloc(0), undefined, first);
    await ks.put('k1', Buffer.from('1'));
    w.close();
    await ks.put('k2', Buffer.from('2'));
    await ks.put('k3', Buffer.from('3'));
    const again = new Sink(feed);
    feed.watch(Buffer.alloc(0), { epoch: feed.epoch, seq: 1 }, again);
    await ks.put('k4', Buffer.from('4'));
    expect(again.changes().map((e) => e.key)).toEqual(['k2', 'k3', 'k4']);
    expect(again.events.some((e) => e.type === 'missed')).toBe(false);
  });

  it('stops recording once nobody has watched for the grace period: a resume from before is told it missed changes', async () => {
    const ks = await Keyspace.open(new MemoryBackend(), { now: () => NOW });
    let t = 0;
    const feed = new ChangeFeed({ ...DEFAULT_FEED_LIMITS, resumeGraceMs: 1000 }, () => t);
    ks.onChange = (b) => feed.record(b);
    const first = feed.watch(Buffer.alloc(0), undefined, new Sink(feed));
    await ks.put('k1', Buffer.from('1'));
    first.close();
    t = 999; // within the grace period: still recorded, a reconnection resumes without a gap
    await ks.put('k2', Buffer.from('2'));
    expect(feed.held).toBe(2);
    const second = new Sink(feed);
    feed.watch(Buffer.alloc(0), { epoch: feed.epoch, seq: 1 }, second).close();
    expect(second.events.map((e) => e.type)).toEqual(['hello', 'change']);
    t = 999 + 1000; // the grace period passed with nobody watching: commits record nothing
    await ks.put('k3', Buffer.from('3'));
    await ks.write([{ type: 'put', key: 'k4', value: Buffer.from('4') }, { type: 'del', key: 'k1' }]);
    expect(feed.held).toBe(0);
    expect(feed.head.seq).toBe(5); // but are counted
    const late = new Sink(feed);
    feed.watch(Buffer.alloc(0), { epoch: feed.epoch, seq: 2 }, late);
    expect(late.events).toEqual([
      { type: 'hello', pos: `${feed.epoch}:5` },
      { type: 'missed', pos: `${feed.epoch}:5`, reason: 'evicted' },
    ]);
    // watched again: recorded again, and a resume from the head misses nothing
    await ks.put('k5', Buffer.from('5'));
    expect(late.changes().map((e) => [e.key, e.pos])).toEqual([['k5', `${feed.epoch}:6`]]);
    const fromHead = new Sink(feed);
    feed.watch(Buffer.alloc(0), { epoch: feed.epoch, seq: 5 }, fromHead);
    expect(fromHead.events.map((e) => e.type)).toEqual(['hello', 'change']);
  });

  it('tells a watcher from another daemon run (epoch) that it missed changes', async () => {
    const { feed } = await open();
    const sink = new Sink(feed);
    feed.watch(Buffer.alloc(0), { epoch: 'ffffffffffffffff', seq: 7 }, sink);
    expect(sink.events[1]).toEqual({ type: 'missed', pos: `${feed.epoch}:0`, reason: 'restarted' });
  });

  it('a watcher that stops reading holds at most its queue bound; it is told it missed changes, then gets the later ones', async () => {
    const ks = await Keyspace.open(new MemoryBackend(), { now: () => NOW });
    const feed = new ChangeFeed({ ...DEFAULT_FEED_LIMITS, queueEntries: 5, ringEntries: 20 });
    ks.onChange = (b) => feed.record(b);
    const slow = new Sink(feed, false);
    const w = feed.watch(Buffer.alloc(0), undefined, slow);
    for (let i = 0; i < 100; i++) await ks.put(`k${i}`, Buffer.from(String(i))); // writes go on while nobody reads
    expect(slow.events.map((e) => e.type)).toEqual(['hello']); // behind from its first line on: all else waited
    slow.open = true;
    w.drained();
    const after = slow.events.slice(1);
    expect(after[0]).toMatchObject({ type: 'missed', reason: 'overflow' });
    const missedAt = Number(after[0]!.pos.split(':')[1]);
    const rest = after.slice(1) as Extract<WatchEvent, { type: 'change' }>[];
    expect(rest.length).toBeLessThanOrEqual(5);
    // every change after the missed position, in order, up to the last write
    expect(rest.map((e) => Number(e.pos.split(':')[1]))).toEqual(Array.from({ length: 100 - missedAt }, (_, i) => missedAt + 1 + i));
    expect(rest.at(-1)!.key).toBe('k99');
  });

  it('ends every stream on close', async () => {
    const { feed } = await open();
    const sinks = [new Sink(feed), new Sink(feed)];
    for (const s of sinks) feed.watch(Buffer.alloc(0), undefined, s);
    feed.close();
    expect(sinks.map((s) => s.ended)).toEqual([true, true]);
    expect(feed.watching).toBe(0);
  });
});
