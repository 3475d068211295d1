// Length-prefixed frames over real yamux streams between two libp2p nodes on 127.0.0.1: order and
// integrity, coalescing, prompt delivery, 17 MiB frames, the size limit, truncation and backpressure.
import { randomBytes } from 'node:crypto';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DecodeError } from '../../src/errors.js';
import { FrameTooLargeError, FrameWriter, StreamClosedError, readFrames } from '../../src/net/frames.js';
import { createNetwork, fullAddrs, type Network } from '../../src/net/node.js';
import { until } from '../helpers/process.js';

const PROTO = '/replikv-test/frames/1.0.0';
const MiB = 1024 * 1024;
let a: Network;
let b: Network;
let inbound: Array<(s: Stream) => void>;

beforeEach(async () => {
  const start = async () => createNetwork({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
  [a, b] = await Promise.all([start(), start()]);
  inbound = [];
  await b.handle(PROTO, (stream) => inbound.shift()?.(stream));
  await a.dial(multiaddr(fullAddrs(b)[0]!));
});
afterEach(async () => {
  await Promise.all([a.stop(), b.stop()]);
});

/** Opens a stream from a to b; `incoming` resolves once b's handler has it (after a's first bytes). */
async function open(): Promise<{ out: Stream; incoming: Promise<Stream> }> {
  const incoming = new Promise<Stream>((resolve) => inbound.push(resolve));
  const out = await a.dialProtocol(b.peerId, PROTO);
  return { out, incoming };
}

async function collect(stream: Stream, maxFrameBytes: number): Promise<Uint8Array[]> {
  const frames: Uint8Array[] = [];
  for await (const f of readFrames(stream, { maxFrameBytes })) frames.push(f);
  return frames;
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

const text = (s: string) => new TextEncoder().encode(s);

describe('frames over a libp2p stream', () => {
  it('delivers many small frames (empty ones included) in order and intact, in far fewer sends', async () => {
    const { out, incoming } = await open();
    const sent = Array.from({ length: 20_000 }, (_, i) => (i % 1000 === 0 ? new Uint8Array(0) : text(`${i}:${'x'.repeat(i % 300)}`)));
    let sends = 0;
    const send = out.send.bind(out);
    out.send = (data) => {
      sends++;
      return send(data);
    };
    const writer = new FrameWriter(out);
    const writing = (async () => {
      for (const f of sent) await writer.write(f);
      await writer.close();
    })();
    const received = await collect(await incoming, 1024);
    await writing;
    expect(received.length).toBe(sent.length);
    received.forEach((f, i) => expect(Buffer.from(f).equals(sent[i]!)).toBe(true));
    expect(sends).toBeLessThan(sent.length / 50);
    await expect(writer.write(text('late'))).rejects.toThrow(StreamClosedError);
  });

  it('puts a lone small frame on the wire without flush or close', async () => {
    const { out, incoming } = await open();
    const writer = new FrameWriter(out);
    await writer.write(text('ping'));
    const frames = readFrames(await incoming, { maxFrameBytes: 1024 });
    const first = await within(frames.next(), 2000, 'frame');
    expect(new TextDecoder().decode(first.value ?? undefined)).toBe('ping');
    await writer.close();
    expect((await frames.next()).done).toBe(true);
  });

  it('delivers a 17 MiB frame intact, followed by a small one', async () => {
    const { out, incoming } = await open();
    const big = randomBytes(17 * MiB);
    const writer = new FrameWriter(out);
    const writing = (async () => {
      await writer.write(big);
      await writer.write(text('after'));
      await writer.close();
    })();
    const received = await collect(await incoming, 17 * MiB + 1024);
    await writing;
    expect(received).toHaveLength(2);
    expect(Buffer.from(received[0]!).equals(big)).toBe(true);
    expect(new TextDecoder().decode(received[1])).toBe('after');
  });

  it('keeps what the peer sends before the first next(): a request is written, then read from, as the replicator does', async () => {
    // The reader must be listening from readFrames() on: libp2p keeps what arrives while nobody listens
    // in the stream's own buffer, grants the sender more window all the same, and resets the stream
    // once that buffer passes 4 MiB (a bootstrap failed so on a 16 MiB value).
    const { out, incoming } = await open();
    const frames = readFrames(out, { maxFrameBytes: 17 * MiB });
    const request = new FrameWriter(out);
    await request.write(text('send me a lot'));
    await request.flush();
    const served = await incoming;
    const big = randomBytes(9 * MiB);
    const reply = new FrameWriter(served);
    const asked = await within(readFrames(served, { maxFrameBytes: 1024 }).next(), 10_000, 'request');
    expect(new TextDecoder().decode(asked.value ?? undefined)).toBe('send me a lot');
    await reply.write(big);
    await reply.write(text('after'));
    // everything is on its way before the reader asks for its first frame
    await within(reply.close(), 30_000, 'the reply to be sent');
    const got: Uint8Array[] = [];
    for await (const f of frames) got.push(f);
    expect(got).toHaveLength(2);
    expect(Buffer.from(got[0]!).equals(big)).toBe(true);
    expect(new TextDecoder().decode(got[1])).toBe('after');
  });

  it('throws FrameTooLargeError for a frame over the limit, resets that stream, and the node stays usable', async () => {
    const { out, incoming } = await open();
    const writer = new FrameWriter(out);
    await writer.write(text('fits'));
    await writer.write(new Uint8Array(4096));
    const frames = readFrames(await incoming, { maxFrameBytes: 1024 });
    expect(new TextDecoder().decode((await frames.next()).value ?? undefined)).toBe('fits');
    await expect(frames.next()).rejects.toThrow(FrameTooLargeError);
    await until(() => out.status === 'reset', 'the sender to see the reset', 5000);

    const again = await open();
    const writer2 = new FrameWriter(again.out);
    await writer2.write(text('still here'));
    await writer2.close();
    const received = await collect(await again.incoming, 1024);
    expect(received.map((f) => new TextDecoder().decode(f))).toEqual(['still here']);
    expect(a.getConnections(b.peerId)).toHaveLength(1);
  });

  it('refuses an oversized frame from its length prefix alone, before any body arrives', async () => {
    const { out, incoming } = await open();
    out.send(Uint8Array.from([0x80, 0x80, 0x80, 0x80, 0x04])); // varint 2^30, and no body
    const err = await collect(await incoming, 16 * MiB).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect((err as Error).name).toBe('FrameTooLargeError');
  });

  it('throws DecodeError when the stream ends inside a frame', async () => {
    const { out, incoming } = await open();
    out.send(Uint8Array.from([10, 1, 2, 3])); // announces 10 bytes, sends 3
    await out.close();
    await expect(collect(await incoming, 1024)).rejects.toThrow(DecodeError);
  });

  it('a reader that stops pulling stalls the writer instead of letting bytes pile up', async () => {
    const { out, incoming } = await open();
    const total = 256;
    const frame = (i: number) => new Uint8Array(64 * 1024).fill(i & 0xff);
    const writer = new FrameWriter(out);
    let written = 0;
    const writing = (async () => {
      for (let i = 0; i < total; i++) {
        await writer.write(frame(i));
        written++;
      }
      await writer.close();
    })();
    const inStream = await incoming;
    const frames = readFrames(inStream, { maxFrameBytes: MiB });
    expect((await frames.next()).value?.[0]).toBe(0);

    // Nobody pulls now: the reader pauses, yamux stops granting window, and the writer waits.
    await until(() => inStream.readStatus === 'paused' && out.writableNeedsDrain, 'the writer to stall', 10_000);
    expect(written * 64 * 1024).toBeLessThan(8 * MiB);

    let count = 1;
    for await (const f of frames) {
      expect(f[0]).toBe(count & 0xff);
      count++;
    }
    await writing;
    expect(count).toBe(total);
    expect(inStream.status).not.toBe('aborted');
  });
});
