// The client side of the control API (docs/control-api.md): one method per route, over the
// daemon's Unix socket. Connection problems and refused requests become typed errors, so the CLI
// can tell "no daemon" (exit 2) from "the daemon said no" (exit 1).

import { statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Agent, request, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { pipeline } from 'node:stream/promises';
import { InvalidKeyError, ReplikvError } from '../errors.js';
import type { ForgetReply, PeerInfo, RepairReply, SignedForget, Status, VerifyReport } from './api.js';
import { CONTEXT_HEADER,
  NOT_FOUND,
  TIMEOUT_HEADER,
  TTL_PARAM,
  W_HEADER, type ErrorReply, type WatchEvent, type ImportReply, type KeyJson, type PersistReply, type ScanPage, type TtlReply, type WriteReply } from './wire.js';

/** Nothing answers on the control socket. */
export class DaemonUnavailableError extends ReplikvError {
  override readonly code = 'DAEMON_UNAVAILABLE';
}

/** The daemon refused or failed a request; `code` is the server's error code when it gave one. */
export class RequestError extends ReplikvError {
  override readonly code: string;
  constructor(
    message: string,
    readonly status: number,
    code?: string,
  ) {
    super(message);
    this.code = code ?? `HTTP_${status}`;
  }
}

// Keep-alive: the server then never closes a connection while we still send a body it answered
// early (an error), which would turn its answer into EPIPE here. Idle sockets are unref'd, so
// they do not keep a CLI process alive.
const sharedAgent = new Agent({ keepAlive: true });

type Body = Uint8Array | Readable | AsyncIterable<Uint8Array>;

interface Reply {
  status: number;
  body: Buffer;
}

export class ControlClient {
  /** `agent`: the connection pool (default: one shared by every client of this process). */
  constructor(
    readonly socketPath: string,
    private readonly agent: Agent = sharedAgent,
  ) {}

  /** Stores `value` (bytes, or a stream of them) under `key`; with `ttl`, it expires that many seconds after the daemon takes it. */
  async put(key: string, value: Body, opts: WriteOptions & { ttl?: number } = {}): Promise<WriteReply> {
    const path = opts.ttl === undefined ? keyPath(key) : `${keyPath(key)}?${TTL_PARAM}=${opts.ttl}`;
    return this.json(await this.call('PUT', path, value, { ...contextHeader(opts.context), ...concernHeaders(opts) }));
  }

  /** Makes the key's value expire `seconds` from now on the daemon's clock; undefined when the key is absent. */
  async expire(key: string, seconds: number, opts: Omit<WriteOptions, 'context'> = {}): Promise<(WriteReply & { expireAt: number }) | undefined> {
    return this.jsonOrAbsent(await this.call('PUT', `${expiryPath(key)}?${TTL_PARAM}=${seconds}`, undefined, concernHeaders(opts)));
  }

  /** Removes the expiry of the key's value; undefined when the key is absent. */
  async persist(key: string, opts: Omit<WriteOptions, 'context'> = {}): Promise<PersistReply | undefined> {
    return this.jsonOrAbsent(await this.call('DELETE', expiryPath(key), undefined, concernHeaders(opts)));
  }

  /** How long the key's value lives on (ttl -1 when it lasts); undefined when the key is absent. */
  async ttl(key: string): Promise<TtlReply | undefined> {
    return this.jsonOrAbsent(await this.call('GET', expiryPath(key)));
  }

  async del(key: string, opts: WriteOptions = {}): Promise<WriteReply> {
    return this.json(await this.call('DELETE', keyPath(key), undefined, { ...contextHeader(opts.context), ...concernHeaders(opts) }));
  }

  /** The resolved value, or undefined when the key is absent or deleted. */
  async get(key: string): Promise<Uint8Array | undefined> {
    const r = await this.call('GET', keyPath(key));
    if (r.status === 404) return undefined;
    this.check(r);
    return r.body;
  }

  /** Everything about a key (a deleted key has value null); undefined when it was never written. */
  async getJson(key: string): Promise<KeyJson | undefined> {
    const r = await this.call('GET', `${keyPath(key)}?format=json`);
    return r.status === 404 ? undefined : this.json(r);
  }

  async scan(opts: { prefix?: string; after?: string; limit?: number } = {}): Promise<ScanPage> {
    const q = new URLSearchParams();
    if (opts.prefix !== undefined) q.set('prefix', opts.prefix);
    if (opts.after !== undefined) q.set('after', opts.after);
    if (opts.limit !== undefined) q.set('limit', String(opts.limit));
    return this.json(await this.call('GET', `/v1/scan?${q}`));
  }

  /** Streams NDJSON records (see docs/control-api.md) to the daemon. */
  async import(ndjson: Readable | AsyncIterable<Uint8Array>, opts: Omit<WriteOptions, 'context'> = {}): Promise<ImportReply> {
    return this.json(await this.call('POST', '/v1/import', ndjson, { 'content-type': 'application/x-ndjson', ...concernHeaders(opts) }));
  }

  async status(): Promise<Status> {
    return this.json(await this.call('GET', '/v1/status'));
  }

  async peers(): Promise<PeerInfo[]> {
    return this.json(await this.call('GET', '/v1/peers'));
  }

  async verify(): Promise<VerifyReport> {
    return this.json(await this.call('POST', '/v1/verify'));
  }

  async repair(peer?: string): Promise<RepairReply> {
    return this.json(await this.call('POST', peer === undefined ? '/v1/repair' : `/v1/repair?peer=${encodeURIComponent(peer)}`));
  }

  /** Drops a peer for good on this node; the daemon tells the others when the forget is `signed` by an operator key. */
  async forget(peer: string, opts: { force?: boolean; signed?: SignedForget } = {}): Promise<ForgetReply> {
    const q = new URLSearchParams({ peer });
    if (opts.force === true) q.set('force', '1');
    if (opts.signed !== undefined) for (const [k, v] of Object.entries(opts.signed)) q.set(k, String(v));
    return this.json(await this.call('POST', `/v1/forget?${q.toString()}`));
  }

  /**
   * The change feed (GET /v1/watch): events as they come, until the stream ends (the daemon
   * stopped) or `signal` aborts. A broken connection throws RequestError; no daemon,
   * DaemonUnavailableError.
   */
  async *watch(opts: { prefix?: string; since?: string; signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent> {
    const q = new URLSearchParams();
    if (opts.prefix !== undefined && opts.prefix !== '') q.set('prefix', opts.prefix);
    if (opts.since !== undefined) q.set('since', opts.since);
    const { req, res } = await this.send('GET', `/v1/watch?${q}`);
    const abort = () => req.destroy();
    opts.signal?.addEventListener('abort', abort, { once: true });
    try {
      if (res.statusCode !== 200) this.check(await this.collect(res));
      const text = new StringDecoder('utf8'); // a character may be split between chunks
      let rest = '';
      for await (const chunk of res as AsyncIterable<Buffer>) {
        const lines = (rest + text.write(chunk)).split('\n');
        rest = lines.pop()!;
        for (const line of lines) if (line !== '') yield JSON.parse(line) as WatchEvent;
      }
    } catch (err) {
      if (opts.signal?.aborted === true) return;
      throw this.requestError(err as NodeJS.ErrnoException);
    } finally {
      opts.signal?.removeEventListener('abort', abort);
      req.destroy();
    }
  }

  private json<T>(r: Reply): T {
    this.check(r);
    return JSON.parse(r.body.toString('utf8')) as T;
  }

  /** Undefined for the daemon's "not found" (a 404 without that code is a missing route: an error). */
  private jsonOrAbsent<T>(r: Reply): T | undefined {
    return r.status === 404 && this.errorOf(r).code === NOT_FOUND ? undefined : this.json(r);
  }

  private errorOf(r: Reply): Partial<ErrorReply> {
    try {
      return JSON.parse(r.body.toString('utf8')) as ErrorReply;
    } catch {
      return {}; // not JSON: the status alone says what happened
    }
  }

  private check(r: Reply): void {
    if (r.status >= 200 && r.status < 300) return;
    const reply = this.errorOf(r);
    throw new RequestError(reply.error ?? `the daemon answered HTTP ${r.status}`, r.status, reply.code);
  }

  /**
   * The backup stream (docs/control-api.md): everything the node holds that `since` (an encoded
   * clock; empty for all of it) lacks. Resolves with the response body as it arrives.
   */
  async backupStream(since: Uint8Array): Promise<IncomingMessage> {
    const { res } = await this.send('POST', '/v1/backup/stream', since, { 'content-type': 'application/octet-stream' });
    if (res.statusCode === 200) return res;
    this.check(await this.collect(res));
    return res;
  }

  private async call(method: string, path: string, body?: Body, headers: Record<string, string> = {}): Promise<Reply> {
    const { req, res } = await this.send(method, path, body, headers);
    const reply = await this.collect(res);
    if (!req.writableFinished) req.destroy(); // answered early (an error): stop uploading
    return reply;
  }

  private collect(res: IncomingMessage): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(this.requestError(err)));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
  }

  /** Sends a request; resolves once the response headers are in. */
  private send(method: string, path: string, body?: Body, headers: Record<string, string> = {}): Promise<{ req: ClientRequest; res: IncomingMessage }> {
    return new Promise((resolve, reject) => {
      // servername '': no TLS on a local socket, so Node need not check whether the host is an IP
      // address (its first check compiles a large regular expression: ~5 ms of every CLI call).
      // (http's types leave servername out; its agent reads it all the same.)
      const options: RequestOptions & { servername: string } = { socketPath: this.socketPath, method, path, headers, agent: this.agent, servername: '' };
      const req = request(options);
      let connected = false;
      req.once('socket', (s) => (s.connecting ? s.once('connect', () => (connected = true)) : (connected = true)));
      const failed = (err: NodeJS.ErrnoException) => reject(connected ? this.requestError(err) : this.connectionError(err));
      req.on('error', failed);
      req.once('response', (res) => resolve({ req, res }));
      if (body === undefined || body instanceof Uint8Array) req.end(body);
      else pipeline(body, req).catch(failed); // a failing source aborts the request
    });
  }

  private connectionError(err: NodeJS.ErrnoException): Error {
    const where = this.socketPath;
    if (isDirectory(where)) {
      return new DaemonUnavailableError(`${where} is a directory, not a control socket: give --data-dir ${where}, or --control ${join(where, 'control.sock')}`, { cause: err });
    }
    if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
      const hint = basename(where) === 'control.sock' ? `replikv daemon --data-dir ${dirname(where)}` : 'replikv daemon';
      return new DaemonUnavailableError(`no replikv daemon is listening on ${where} (start one with: ${hint})`, { cause: err });
    }
    if (err.code === 'EACCES') {
      return new DaemonUnavailableError(`permission denied on the control socket ${where}: run replikv as the user the daemon runs as (e.g. sudo -u replikv replikv ...)`, { cause: err });
    }
    return this.requestError(err);
  }

  private requestError(err: NodeJS.ErrnoException): Error {
    if (err instanceof ReplikvError) return err;
    return new RequestError(`request to the daemon on ${this.socketPath} failed: ${err.message}`, 0, err.code);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function keyPath(key: string): string {
  return `/v1/keys/${encodedKey(key)}`;
}

function expiryPath(key: string): string {
  return `/v1/expiry/${encodedKey(key)}`;
}

function encodedKey(key: string): string {
  try {
    return encodeURIComponent(key);
  } catch {
    throw new InvalidKeyError('invalid key: not well-formed Unicode (lone surrogate)');
  }
}

/** Options of a write: the context it supersedes and its write concern. */
export interface WriteOptions {
  context?: string;
  /** Replicas, the writer included, that must hold the write before the call returns ('all': every connected peer too). */
  w?: number | 'all';
  timeoutMs?: number;
}

function concernHeaders(opts: WriteOptions): Record<string, string> {
  if (opts.w === undefined) return {};
  return { [W_HEADER]: String(opts.w), ...(opts.timeoutMs === undefined ? {} : { [TIMEOUT_HEADER]: String(opts.timeoutMs) }) };
}

function contextHeader(context: string | undefined): Record<string, string> {
  return context === undefined ? {} : { [CONTEXT_HEADER]: context };
}
