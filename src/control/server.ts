// The control API: HTTP with JSON on a Unix socket (mode 0600), so only the daemon's own user can
// drive it and no port is opened. Routes are documented in docs/control-api.md. A bad request is
// answered with a typed error and never takes the server down.

import { RepairError } from '../sync/integrity.js';
import { ForgetError } from '../sync/membership.js';
import { chmod, lstat, unlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { DEFAULT_MAX_VALUE_BYTES } from '../core/validate.js';
import { DecodeError, InvalidKeyError, InvalidTokenError, InvalidValueError, ReplikvError, ResourceError, WriteConcernError } from '../errors.js';
import type { ReadResult, WriteResult } from '../store/keyspace.js';
import { Clock } from '../core/clock.js';
import type { NodeApi, SignedForget, WriteConcernSpec } from './api.js';
import { MAX_SINCE_BYTES, serveBackupStream } from './backup-stream.js';
import { ImportLineError, importNdjson } from './import-stream.js';
import { UnattainableConcernError } from './concern-check.js';
import { expireAtOf, parseSeconds, ttlExpected } from './ttl.js';
import { serveWatch, watchParams, WatchRefusedError } from './watch-route.js';
import {
  CONTEXT_HEADER,
  DEFAULT_CONCERN_TIMEOUT_MS,
  NOT_FOUND,
  TIMEOUT_HEADER,
  toJsonValue,
  toJsonValueOrNull,
  toSiblingJson,
  TTL_PARAM,
  W_HEADER,
  type ImportReply,
  type KeyJson,
  type PersistReply,
  type ScanPage,
  type TtlReply,
  type WriteReply,
} from './wire.js';

export interface ControlServer {
  readonly socketPath: string;
  close(): Promise<void>;
}

export interface ControlServerOptions {
  /** The node's value limit; PUT bodies beyond it plus PUT_SLACK_BYTES are refused unread (413). */
  maxValueBytes?: number;
}

/** The socket path is taken by a live daemon, or is not a socket we may replace (exit 75, like a port in use). */
export class ControlSocketError extends ResourceError {
  override readonly code = 'CONTROL_SOCKET';
}

/** A request that does not fit the API (bad query, bad header, bad percent-encoding). */
export class BadRequestError extends ReplikvError {
  override readonly code = 'BAD_REQUEST';
}

class PayloadTooLargeError extends ReplikvError {
  override readonly code = 'PAYLOAD_TOO_LARGE';
}

export const PUT_SLACK_BYTES = 64 * 1024;
export const MAX_SCAN_LIMIT = 10_000;
const DEFAULT_SCAN_LIMIT = 1000;
const CLIENT_ERRORS = [InvalidKeyError, InvalidValueError, InvalidTokenError, DecodeError, BadRequestError, ImportLineError, ForgetError, UnattainableConcernError];

export async function startControlServer(
  socketPath: string,
  api: NodeApi,
  log: (obj: object) => void = () => {},
  opts: ControlServerOptions = {},
): Promise<ControlServer> {
  const maxValueBytes = opts.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  await removeStaleSocket(socketPath);
  const server = createServer((req, res) => {
    route(req, res, api, maxValueBytes, log).catch((err: unknown) => fail(req, res, err, log));
  });
  server.requestTimeout = 0; // an import may stream for longer than Node's 5-minute default
  // The socket is created under a umask that leaves it owner-only from the first instant;
  // the chmod after listen only makes that explicit.
  const umask = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new ControlSocketError(`${socketPath} was taken by another daemon while starting`) : err),
      );
      server.listen(socketPath, resolve);
    });
  } finally {
    process.umask(umask);
  }
  await chmod(socketPath, 0o600);
  log({ msg: 'control socket listening', socketPath });
  return {
    socketPath,
    close: () =>
      new Promise<void>((resolve) => {
        api.feed?.close(); // watch streams never end on their own: end them, so nothing waits for them
        server.close(() => resolve()); // also removes the socket file
        server.closeAllConnections();
      }),
  };
}

/** A socket file left by a dead daemon is removed; one a live daemon answers on is refused. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ControlSocketError(`cannot check control socket ${path}: ${(err as NodeJS.ErrnoException).code}`);
  }
  if (!isSocket) throw new ControlSocketError(`${path} exists and is not a socket; refusing to replace it`);
  const live = await new Promise<boolean>((resolve, reject) => {
    const probe = connect(path);
    probe.setTimeout(2000, () => (probe.destroy(), resolve(true))); // a hung daemon still holds it
    probe.once('connect', () => (probe.destroy(), resolve(true)));
    probe.once('error', (err: NodeJS.ErrnoException) =>
      err.code === 'ECONNREFUSED' ? resolve(false) : reject(new ControlSocketError(`cannot check control socket ${path}: ${err.code}`)),
    );
  });
  if (live) throw new ControlSocketError(`another replikv daemon is already listening on ${path}`);
  await unlink(path);
}

async function route(req: IncomingMessage, res: ServerResponse, api: NodeApi, maxValueBytes: number, log: (obj: object) => void): Promise<void> {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
  const method = req.method ?? 'GET';

  if (path.startsWith('/v1/keys/')) {
    const key = decodeKey(path.slice('/v1/keys/'.length));
    if (method === 'PUT' || method === 'DELETE') {
      const concern = concernOf(req);
      if (concern !== null) api.checkConcern?.(concern); // before the write: a refused --w writes nothing
      // the expiry comes from this daemon's clock, taken when the request arrives
      const expireAt = method === 'PUT' && query.has(TTL_PARAM) ? ttlParam(query) : undefined;
      const value = method === 'PUT' ? await readBody(req, maxValueBytes + PUT_SLACK_BYTES) : null;
      const op = value === null ? { type: 'del' as const, key, ...contextOf(req) } : { type: 'put' as const, key, value, ...contextOf(req), expireAt };
      const [r] = await api.write([op]);
      return sendJson(res, 200, { dot: r!.dot, replicas: await replicated(api, r!, concern), expireAt } satisfies WriteReply);
    }
    if (method === 'GET') return getKey(res, key, api.read(key), query.get('format'));
  }
  if (path.startsWith('/v1/expiry/')) return expiry(req, res, api, decodeKey(path.slice('/v1/expiry/'.length)), query);
  if (path === '/v1/scan' && method === 'GET') {
    const page = api.scan({ prefix: query.get('prefix') ?? undefined, after: query.get('after') || undefined, limit: scanLimit(query.get('limit')) });
    return sendJson(res, 200, { items: page.items.map((i) => ({ key: i.key, ...toJsonValue(i.value) })), cursor: page.cursor } satisfies ScanPage);
  }
  if (path === '/v1/import' && method === 'POST') {
    const concern = concernOf(req);
    if (concern !== null) api.checkConcern?.(concern);
    const dots = Clock.empty();
    const write = async (ops: Parameters<NodeApi['write']>[0]) => {
      const results = await api.write(ops);
      for (const r of results) dots.add(r.dot.r, r.dot.c);
      return results;
    };
    const imported = await importNdjson(req, write, maxValueBytes);
    const replicas = concern === null ? undefined : await api.awaitReplicas(dots, concern);
    return sendJson(res, 200, { imported, replicas } satisfies ImportReply);
  }
  if (path === '/v1/backup/stream' && method === 'POST') return serveBackupStream(res, api, await readBody(req, MAX_SINCE_BYTES));
  if (path === '/v1/watch' && method === 'GET' && api.feed !== undefined) {
    return serveWatch(req, res, api.feed, watchParams(query, (m) => new BadRequestError(m)), maxValueBytes, log);
  }
  if (path === '/v1/status' && method === 'GET') return sendJson(res, 200, api.status());
  if (path === '/v1/peers' && method === 'GET') return sendJson(res, 200, api.peers());
  if (path === '/v1/verify' && method === 'POST') return sendJson(res, 200, await api.verify());
  if (path === '/v1/repair' && method === 'POST') return sendJson(res, 200, await api.repair(query.get('peer') ?? undefined));
  if (path === '/v1/forget' && method === 'POST') return sendJson(res, 200, await api.forget(peerIdParam(query.get('peer')), query.get('force') === '1', signedForgetParams(query)));
  sendJson(res, 404, { error: `no route for ${method} ${path}` });
}

/** GET: how long the key lives on; PUT ?ttl=SECONDS: set its expiry; DELETE: remove it (persist). */
async function expiry(req: IncomingMessage, res: ServerResponse, api: NodeApi, key: string, query: URLSearchParams): Promise<void> {
  const method = req.method ?? 'GET';
  if (method === 'GET') {
    const now = Date.now();
    const at = liveExpiry(api, key, now);
    if (at === undefined) return sendJson(res, 404, { error: 'not found', code: NOT_FOUND });
    const ttlMs = at === null ? -1 : at - now;
    return sendJson(res, 200, { key, ttl: at === null ? -1 : Math.ceil(ttlMs / 1000), ttlMs, expireAt: at } satisfies TtlReply);
  }
  if (method !== 'PUT' && method !== 'DELETE') return sendJson(res, 404, { error: `no route for ${method} /v1/expiry/KEY` });
  const concern = concernOf(req);
  if (concern !== null) api.checkConcern?.(concern);
  if (method === 'PUT' && !query.has(TTL_PARAM)) throw new BadRequestError(`give the time to live as ?${TTL_PARAM}=SECONDS`);
  const expireAt = method === 'PUT' ? ttlParam(query) : null;
  const current = liveExpiry(api, key, Date.now());
  if (current === undefined) return sendJson(res, 404, { error: 'not found', code: NOT_FOUND });
  if (expireAt === null && current === null) return sendJson(res, 200, { persisted: false } satisfies PersistReply);
  const r = await api.expire(key, expireAt);
  if (r === null) return sendJson(res, 404, { error: 'not found', code: NOT_FOUND }); // gone in between
  const replicas = await replicated(api, r, concern);
  if (expireAt === null) return sendJson(res, 200, { persisted: true, dot: r.dot, replicas } satisfies PersistReply);
  sendJson(res, 200, { dot: r.dot, replicas, expireAt } satisfies WriteReply);
}

/** The key's expiry as api.expiryOf says; one already past at `now` (the store read a moment earlier) is absent too. */
function liveExpiry(api: NodeApi, key: string, now: number): number | null | undefined {
  const at = api.expiryOf(key);
  return at !== null && at !== undefined && at <= now ? undefined : at;
}

/** The ttl query parameter as an expiry on this daemon's clock, or a BadRequestError saying what it may be. */
function ttlParam(query: URLSearchParams): number {
  const raw = query.get(TTL_PARAM) ?? '';
  const now = Date.now();
  const at = expireAtOf(parseSeconds(raw), now);
  if (at === undefined) throw new BadRequestError(`${TTL_PARAM} must be ${ttlExpected(now)}, got "${raw}"`);
  return at;
}

/** With a write concern: waits until it holds for the write and answers the replica count. */
async function replicated(api: NodeApi, r: WriteResult, concern: WriteConcernSpec | null): Promise<number | undefined> {
  if (concern === null) return undefined;
  const dots = Clock.empty();
  dots.add(r.dot.r, r.dot.c);
  return api.awaitReplicas(dots, concern);
}

function getKey(res: ServerResponse, key: string, r: ReadResult | undefined, format: string | null): void {
  if (format !== null && format !== 'json' && format !== 'raw') throw new BadRequestError(`unknown format "${format}" (json or raw)`);
  if (format === 'json') {
    if (r === undefined) return sendJson(res, 404, { error: 'not found' });
    return sendJson(res, 200, { key, ...toJsonValueOrNull(r.value), siblings: r.siblings.map(toSiblingJson), context: r.context } satisfies KeyJson);
  }
  if (r === undefined || r.value === null) return sendJson(res, 404, { error: 'not found' });
  res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': r.value.length });
  res.end(r.value);
}

/** A signed forget's at, key and sig, all or none (an operator's signature: replikv forget --sign-key). */
function signedForgetParams(query: URLSearchParams): SignedForget | undefined {
  const [at, key, sig] = [query.get('at'), query.get('key'), query.get('sig')];
  if (at === null && key === null && sig === null) return undefined;
  if (at === null || !/^\d{1,15}$/.test(at) || key === null || !/^[0-9a-f]{64}$/i.test(key) || sig === null || !/^[0-9a-f]{128}$/i.test(sig)) {
    throw new BadRequestError('a signed forget needs at (ms), key (64 hex characters) and sig (128 hex characters)');
  }
  return { at: Number(at), key, sig };
}

/** A PeerId as libp2p prints it (base58btc multihash or CID text): checked here, parsed by the daemon. */
function peerIdParam(raw: string | null): string {
  if (raw === null || !/^[1-9A-HJ-NP-Za-km-z]{20,128}$/.test(raw)) throw new BadRequestError(`"${raw ?? ''}" is not a PeerId (e.g. 12D3KooW...)`);
  return raw;
}

function decodeKey(encoded: string): string {
  try {
    return decodeURIComponent(encoded);
  } catch {
    throw new InvalidKeyError('invalid key: bad percent-encoding in the path (use encodeURIComponent)');
  }
}

function contextOf(req: IncomingMessage): { context?: string } {
  const v = req.headers[CONTEXT_HEADER];
  if (Array.isArray(v)) throw new BadRequestError(`give ${CONTEXT_HEADER} at most once`);
  return v === undefined ? {} : { context: v };
}

function scanLimit(raw: string | null): number {
  if (raw === null || raw === '') return DEFAULT_SCAN_LIMIT;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= MAX_SCAN_LIMIT)) throw new BadRequestError(`limit must be an integer from 1 to ${MAX_SCAN_LIMIT}, got "${raw}"`);
  return n;
}

/** Reads a body of at most `cap` bytes; a larger one is refused before it is buffered. */
async function readBody(req: IncomingMessage, cap: number): Promise<Buffer> {
  const tooLarge = () => new PayloadTooLargeError(`request body larger than ${cap} bytes (the value limit, config maxValueBytes, plus ${PUT_SLACK_BYTES})`);
  if (Number(req.headers['content-length'] ?? 0) > cap) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > cap) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

function fail(req: IncomingMessage, res: ServerResponse, err: unknown, log: (obj: object) => void): void {
  // Drain what the client is still sending, so it can read the answer instead of stalling.
  req.resume();
  if (res.headersSent) return void res.destroy();
  if (err instanceof PayloadTooLargeError) return sendJson(res, 413, { error: err.message, code: err.code });
  if (err instanceof RepairError) return sendJson(res, 409, { error: err.message, code: err.code });
  if (err instanceof WatchRefusedError) return sendJson(res, 503, { error: err.message, code: err.code });
  if (err instanceof WriteConcernError) return sendJson(res, 504, { error: err.message, code: err.code, acked: err.acked, wanted: err.wanted });
  if (CLIENT_ERRORS.some((type) => err instanceof type)) {
    const e = err as ReplikvError;
    return sendJson(res, 400, { error: e.message, code: e.code });
  }
  const e = err instanceof Error ? err : new Error(String(err));
  log({ msg: 'control request failed', method: req.method, url: req.url, error: e.stack ?? e.message });
  sendJson(res, 500, { error: `internal error: ${e.message}`, ...(e instanceof ReplikvError ? { code: e.code } : {}) });
}

/** The write concern headers, or null when the client asked for none. */
function concernOf(req: IncomingMessage): WriteConcernSpec | null {
  const w = req.headers[W_HEADER];
  if (w === undefined) return null;
  const t = req.headers[TIMEOUT_HEADER];
  const timeoutMs = t === undefined ? DEFAULT_CONCERN_TIMEOUT_MS : Number(t);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new BadRequestError(`${TIMEOUT_HEADER} must be a positive number of milliseconds`);
  if (w === 'all') return { w, timeoutMs };
  const n = Number(w);
  if (!Number.isSafeInteger(n) || n < 1) throw new BadRequestError(`${W_HEADER} must be a positive replica count or "all"`);
  return { w: n, timeoutMs };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': data.length });
  res.end(data);
}
