// The typed client of a local replikv daemon (what `connect()` returns): the control API
// (docs/control-api.md) with values as bytes, scans and the change feed as async iterators.
// The CLI's client commands are built on it.

import { Agent } from 'node:http';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { ControlClient, type WriteOptions } from './client.js';
import type { ForgetReply, PeerInfo, RepairReply, SignedForget, Status, VerifyReport } from './api.js';
import type { ImportReply, KeyJson, PersistReply, ScanPage, TtlReply, WriteReply } from './wire.js';
import { ndjsonOf, type ImportSource } from './import-source.js';
import { bytesOf, siblingOf, watchFeed, type FeedEvent, type Sibling, type WatchOptions } from './watch-feed.js';

export interface ConnectOptions {
  /** The daemon's data directory: its socket is DIR/control.sock (default ./data). */
  dataDir?: string;
  /** The control socket itself (wins over dataDir). */
  socket?: string;
}

export interface PutOptions extends WriteOptions {
  /** Seconds until the value expires, on the daemon's clock (a whole number from 1). */
  ttl?: number;
}

/** A key as a read sees it: the resolved value (null when deleted), every sibling, and the context token. */
export interface KeyRecord {
  key: string;
  value: Buffer | null;
  siblings: Sibling[];
  /** Pass as `context` to a put or del to supersede exactly these siblings. */
  context: string;
}

export interface ScanOptions {
  prefix?: string;
  /** Start after this key. */
  after?: string;
  /** Keys per request (1 to 10000; default 1000). */
  pageSize?: number;
}

/** The control socket a data directory's daemon listens on. */
export function socketOf(opts: ConnectOptions): string {
  return opts.socket ?? join(opts.dataDir ?? './data', 'control.sock');
}

export class ReplikvClient {
  /** The route-by-route client underneath (backups stream through it). */
  readonly control: ControlClient;
  private readonly agent = new Agent({ keepAlive: true });
  private readonly watches = new Set<AbortController>();

  constructor(opts: ConnectOptions = {}) {
    this.control = new ControlClient(socketOf(opts), this.agent);
  }

  get socket(): string {
    return this.control.socketPath;
  }

  /** The value, or undefined when the key is absent, deleted or expired. */
  async get(key: string): Promise<Buffer | undefined> {
    const v = await this.control.get(key);
    return v === undefined ? undefined : Buffer.from(v.buffer, v.byteOffset, v.length);
  }

  /** Everything about a key; undefined when it was never written (a deleted key has value null). */
  async read(key: string): Promise<KeyRecord | undefined> {
    const r = await this.control.getJson(key);
    return r === undefined ? undefined : recordOf(r);
  }

  /** The raw JSON record of a read (values as text or base64), as `replikv get --json` prints it. */
  readJson(key: string): Promise<KeyJson | undefined> {
    return this.control.getJson(key);
  }

  /** Stores a value (text is stored as its UTF-8 bytes; a stream is sent as it comes). */
  async put(key: string, value: string | Uint8Array | Readable | AsyncIterable<Uint8Array>, opts: PutOptions = {}): Promise<WriteReply> {
    return this.control.put(key, valueBody(value), opts);
  }

  del(key: string, opts: WriteOptions = {}): Promise<WriteReply> {
    return this.control.del(key, opts);
  }

  /** Makes the value expire `seconds` from now; undefined when the key is absent. */
  expire(key: string, seconds: number, opts: Omit<WriteOptions, 'context'> = {}): Promise<(WriteReply & { expireAt: number }) | undefined> {
    return this.control.expire(key, seconds, opts);
  }

  /** Removes the value's expiry; undefined when the key is absent. */
  persist(key: string, opts: Omit<WriteOptions, 'context'> = {}): Promise<PersistReply | undefined> {
    return this.control.persist(key, opts);
  }

  /** How long the value lives on (ttl -1 when it lasts); undefined when the key is absent. */
  ttl(key: string): Promise<TtlReply | undefined> {
    return this.control.ttl(key);
  }

  /** Live keys in key order, over as many pages as it takes. */
  async *scan(opts: ScanOptions = {}): AsyncGenerator<{ key: string; value: Buffer }> {
    for await (const page of this.scanPages(opts)) for (const item of page.items) yield { key: item.key, value: bytesOf(item)! };
  }

  /** The scan's pages as the daemon sends them (values as text or base64), each with its cursor. */
  async *scanPages(opts: ScanOptions & { limit?: number } = {}): AsyncGenerator<ScanPage> {
    let after = opts.after;
    let remaining = opts.limit ?? Infinity;
    do {
      const page = await this.control.scan({ prefix: opts.prefix, after, limit: Math.min(remaining, opts.pageSize ?? 1000) });
      yield page;
      remaining -= page.items.length;
      after = page.cursor ?? undefined;
    } while (after !== undefined && remaining > 0);
  }

  /** Imports records or NDJSON (text, bytes or a stream), streamed: the daemon writes in batches. */
  import(source: ImportSource, opts: Omit<WriteOptions, 'context'> = {}): Promise<ImportReply> {
    return this.control.import(ndjsonOf(source), opts);
  }

  status(): Promise<Status> {
    return this.control.status();
  }

  peers(): Promise<PeerInfo[]> {
    return this.control.peers();
  }

  verify(): Promise<VerifyReport> {
    return this.control.verify();
  }

  repair(peer?: string): Promise<RepairReply> {
    return this.control.repair(peer);
  }

  forget(peer: string, opts: { force?: boolean; signed?: SignedForget } = {}): Promise<ForgetReply> {
    return this.control.forget(peer, opts);
  }

  /**
   * Every change to keys with the prefix, local or replicated, as it is committed: a "hello"
   * first, then "change" events (and "missed" when changes were lost to this watcher). Ends when
   * the daemon stops (or, with `reconnect`, only on `signal` or close()).
   */
  async *watch(opts: WatchOptions = {}): AsyncGenerator<FeedEvent> {
    const ac = new AbortController();
    const onAbort = () => ac.abort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.signal?.aborted === true) ac.abort();
    this.watches.add(ac);
    try {
      yield* watchFeed(this.control, { ...opts, signal: ac.signal });
    } finally {
      this.watches.delete(ac);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Ends every watch and closes the connections. */
  close(): void {
    for (const ac of this.watches) ac.abort();
    this.agent.destroy();
  }
}

function recordOf(r: KeyJson): KeyRecord {
  return {
    key: r.key,
    value: bytesOf(r),
    siblings: r.siblings.map(siblingOf),
    context: r.context,
  };
}

/**
 * A value as the control client sends it. JavaScript callers can pass anything: a number or an
 * object is the caller's mistake, said here before any request, not a failed request to the daemon.
 */
function valueBody(value: unknown): Uint8Array | Readable | AsyncIterable<Uint8Array> {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'object' && value !== null && typeof (value as AsyncIterable<Uint8Array>)[Symbol.asyncIterator] === 'function') return value as AsyncIterable<Uint8Array>;
  throw new TypeError(`a value is text, bytes (Uint8Array, Buffer) or a stream of bytes, not ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
}
