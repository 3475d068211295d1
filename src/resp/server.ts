// The Redis protocol listener: a net.Server whose connections parse commands, hand them to the
// dispatcher and write the replies back in order (pipelining). Everything a client can grow is
// bounded: the command being read (request-parser.ts), the replies waiting to go out (reading
// pauses while they pile up), and the number of connections. Bound before the daemon creates
// anything, so a busy port refuses the start like a busy listen address; a client that connects
// before the node serves waits (its bytes stay in its socket) until serve() or close().

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { NodeApi } from '../control/api.js';
import { ConfigError, ResourceError } from '../errors.js';
import { formatHostPort, parseHostPort } from '../net/host-port.js';
import { LogLimiter } from '../log-limiter.js';
import type { Ctx, RespEnv } from './command.js';
import { crossProtocol, dispatch } from './dispatch.js';
import { encodeReply, ErrorReply, type Reply } from './reply.js';
import { ProtocolError, RequestParser, type RequestLimits } from './request-parser.js';
import { Session } from './session.js';
import { WriteBatcher } from './write-batcher.js';

export interface RespServerOptions {
  /** HOST:PORT (validated by config.ts). */
  listen: string;
  password: string | null;
  maxValueBytes: number;
  /** Most connections at once (default 1,000). */
  maxClients?: number;
}

export interface RespServer {
  /** The bound address, HOST:PORT (the real port when 0 was asked); the daemon logs it ("resp listening"). */
  readonly addr: string;
  /** Starts answering commands, for the clients that connected meanwhile too. */
  serve(api: NodeApi): void;
  close(): Promise<void>;
}

export const DEFAULT_MAX_CLIENTS = 1000;
/** Replies waiting for earlier ones (or for their writes) before reading from the client pauses. */
const MAX_PENDING_REPLIES = 10_000;
/** Bytes of replies the kernel has not taken yet before reading from the client pauses. */
const MAX_UNSENT_BYTES = 8 * 1024 * 1024;
/** Room for keys and framing beside the largest value. */
const COMMAND_SLACK = 1024 * 1024;

/** Binds and serves at once (the listener tests). */
export async function startRespServer(api: NodeApi, opts: RespServerOptions, log: Logger): Promise<RespServer> {
  const server = await bindRespServer(opts, log);
  server.serve(api);
  return server;
}

/** Binds HOST:PORT; a port in use is a ResourceError, an address not on this machine a ConfigError. */
export async function bindRespServer(opts: RespServerOptions, log: Logger): Promise<RespServer> {
  const hp = parseHostPort(opts.listen);
  if (typeof hp === 'string') throw new ConfigError(`resp: ${hp}`);
  const limits: RequestLimits = {
    maxInlineBytes: 64 * 1024,
    maxBulkBytes: opts.maxValueBytes + COMMAND_SLACK,
    maxArgs: 1024 * 1024,
    maxCommandBytes: opts.maxValueBytes + COMMAND_SLACK,
  };
  const maxClients = opts.maxClients ?? DEFAULT_MAX_CLIENTS;
  const conns = new Set<Connection>();
  /** Connected before serve(): not read from yet (the kernel's buffers bound what they send). */
  const waiting = new Set<Socket>();
  let env: RespEnv | undefined;
  const warn = rateLimited(log);
  let nextId = 1;
  const accept = (sock: Socket, env: RespEnv) => {
    const conn = new Connection(sock, { env, session: new Session(nextId++, opts.password !== null, `${sock.remoteAddress ?? '?'}:${sock.remotePort ?? 0}`) }, limits, warn, () => conns.delete(conn));
    conns.add(conn);
  };
  const server: Server = createServer({ noDelay: true }, (sock) => {
    if (conns.size + waiting.size >= maxClients) {
      warn('maxclients', { maxClients }, 'resp: connection refused, the maximum number of clients is reached');
      sock.on('error', () => undefined);
      sock.end('-ERR max number of clients reached\r\n');
      // what it sent is read and dropped, so its end arrives and the socket closes; at most 5 s
      sock.resume();
      sock.setTimeout(5000, () => sock.destroy());
      return;
    }
    if (env !== undefined) return accept(sock, env);
    waiting.add(sock);
    sock.on('error', () => undefined); // a reset by the client: 'close' follows
    sock.once('close', () => waiting.delete(sock));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') reject(new ResourceError(`resp: ${opts.listen} is in use (by another program, or by another listener of this daemon: --listen, --metrics)`));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN') reject(new ConfigError(`resp: ${opts.listen} is not an address of this machine (${err.code})`));
      else reject(new ResourceError(`resp: cannot listen on ${opts.listen}: ${err.code ?? err.message}`));
    });
    server.listen({ host: hp.host, port: hp.port }, resolve);
  });
  server.on('error', (err) => log.warn({ reason: err.message }, 'resp listener error'));
  const bound = server.address();
  const addr = bound !== null && typeof bound === 'object' ? formatHostPort({ host: bound.address, port: bound.port }) : opts.listen;
  return {
    addr,
    serve(api) {
      const batcher = new WriteBatcher((ops) => api.write(ops));
      env = {
        api,
        maxValueBytes: opts.maxValueBytes,
        write: (ops) => batcher.add(ops),
        password: opts.password,
        now: Date.now,
        addr: () => addr,
        clients: () => conns.size,
        sessions: () => [...conns].map((conn) => conn.session),
        loading: () => {
          const state = api.state?.() ?? 'ready';
          return state === 'ready' ? null : `replikv is ${state === 'bootstrapping' ? 'bootstrapping: streaming the keyspace from a peer' : 'recovering: repairing its store from a peer'}; its keys are served once it is ready (status, /readyz)`;
        },
        authFailed: (s) => warn('auth', { client: s.id }, 'resp: a client gave a wrong password (AUTH)'),
      };
      for (const sock of waiting) if (!sock.destroyed) accept(sock, env);
      waiting.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of conns) c.destroy();
        for (const sock of waiting) sock.destroy();
      }),
  };
}

interface Pending {
  reply: Reply | undefined;
  done: boolean;
}

/** One client: commands in, replies out in the same order. */
class Connection {
  private readonly parser: RequestParser;
  private readonly queue: Pending[] = [];
  private out: (string | Uint8Array)[] = [];
  private paused = false;
  private flushScheduled = false;
  /** No more commands are read: QUIT, or a protocol error (answered, then the connection ends). */
  private ending = false;

  get session(): Session {
    return this.ctx.session;
  }

  constructor(
    private readonly sock: Socket,
    private readonly ctx: Ctx,
    limits: RequestLimits,
    private readonly warn: Warn,
    private readonly gone: () => void,
  ) {
    this.parser = new RequestParser(limits);
    sock.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk);
        this.run();
      } catch (err) {
        // nothing a client sends may take the daemon down: a bug shows as this connection closed
        this.warn('internal', { client: this.ctx.session.id, reason: (err as Error).stack ?? String(err) }, 'resp: connection closed on an internal error');
        sock.destroy();
      }
    });
    sock.on('drain', () => this.maybeResume());
    sock.on('error', () => undefined); // a reset by the client: 'close' follows
    sock.on('close', gone);
  }

  destroy(): void {
    this.sock.destroy();
  }

  /** Reads and dispatches every complete command buffered, unless paused or ending. */
  private run(): void {
    while (!this.paused && !this.ending) {
      let args: Buffer[] | undefined;
      try {
        args = this.parser.next();
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        this.warn('protocol', { client: this.ctx.session.id, reason: err.message }, 'resp: protocol error, connection closed');
        this.ending = true;
        this.push(new ErrorReply(`ERR Protocol error: ${err.message}`));
        break;
      }
      if (args === undefined) break;
      if (args.length === 0) continue;
      if (crossProtocol(args)) {
        this.warn('http', { client: this.ctx.session.id }, 'resp: an HTTP request on the Redis port (a web page may be posting to it), connection closed');
        this.sock.destroy();
        return;
      }
      this.push(dispatch(this.ctx, args, (e) => this.warn('internal', { client: this.ctx.session.id, reason: (e as Error).stack ?? String(e) }, 'resp: a command failed')));
      // QUIT may wait its turn behind earlier commands: nothing after it is read either way
      if (this.ctx.session.closing || (args[0]!.length === 4 && args[0]!.toString('latin1').toLowerCase() === 'quit')) this.ending = true;
      if (this.queue.length >= MAX_PENDING_REPLIES) this.pause();
    }
    this.flush();
  }

  private push(r: Reply | Promise<Reply>): void {
    if (!(r instanceof Promise)) {
      if (this.queue.length === 0) return encodeReply(r, this.ctx.session.proto, this.out);
      this.queue.push({ reply: r, done: true });
      return;
    }
    const p: Pending = { reply: undefined, done: false };
    this.queue.push(p);
    void r.then((reply) => {
      p.reply = reply;
      p.done = true;
      this.drainQueue();
    });
  }

  /**
   * Replies whose writes committed together resolve one after another: they go out in one socket
   * write at the end of the turn, not one each (a write costs a system call).
   */
  private drainQueue(): void {
    while (this.queue.length > 0 && this.queue[0]!.done) encodeReply(this.queue.shift()!.reply!, this.ctx.session.proto, this.out);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
      this.maybeResume();
    });
  }

  private flush(): void {
    if (this.out.length > 0 && !this.sock.destroyed) {
      const parts = this.out;
      this.out = [];
      const joined = joinSmall(parts);
      if (joined !== undefined) this.sock.write(joined);
      else {
        this.sock.cork();
        for (const p of parts) this.sock.write(p);
        this.sock.uncork();
      }
    }
    if (this.ending && this.queue.length === 0) this.sock.end();
    else if (this.sock.writableLength > MAX_UNSENT_BYTES) this.pause();
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.sock.pause();
  }

  private maybeResume(): void {
    if (!this.paused || this.queue.length >= MAX_PENDING_REPLIES / 2 || this.sock.writableLength > MAX_UNSENT_BYTES / 2) return;
    this.paused = false;
    this.sock.resume();
    this.run(); // commands that arrived before the pause
  }
}

/** Replies joined into one chunk up to this size; larger values go out as they are (no copy). */
const JOIN_LIMIT = 16 * 1024;

/**
 * The parts of a flush as one string or one buffer, or undefined when they are big. One socket
 * write instead of a corked write per part: a GET's reply is a header, the value and CRLF, and
 * Node's stream machinery costs more per write than copying 100 bytes.
 */
function joinSmall(parts: (string | Uint8Array)[]): string | Buffer | undefined {
  if (parts.every((p) => typeof p === 'string')) return parts.join('');
  let size = 0;
  for (const p of parts) {
    size += typeof p === 'string' ? Buffer.byteLength(p) : p.length;
    if (size > JOIN_LIMIT) return undefined;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = 0;
  for (const p of parts) {
    if (typeof p === 'string') at += buf.write(p, at);
    else {
      buf.set(p, at);
      at += p.length;
    }
  }
  return buf;
}

type Warn = (kind: string, obj: object, msg: string) => void;

/** Warnings about clients, at most one line per kind every 10 s, with how many were held back. */
function rateLimited(log: Logger): Warn {
  const limiter = new LogLimiter(10_000);
  return (kind, obj, msg) => {
    const held = limiter.take(kind, Date.now());
    if (held !== null) log.warn({ ...obj, ...(held > 0 ? { heldBack: held } : {}) }, msg);
  };
}
