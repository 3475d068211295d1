// The metrics HTTP server: GET /metrics (Prometheus text), /healthz and /readyz; 404 for other
// paths, 405 for other methods. Read-only and bounded: no request body is read (a request with
// one gets its answer and the connection is closed), headers are small, slow requests time out,
// and connections are capped. Bound before the daemon creates anything, so a busy port refuses
// the start like a busy listen address; it answers 503 until the daemon is running.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConfigError, ReplikvError, ResourceError } from '../errors.js';
import { listenReason } from '../net/listen-error.js';
import { formatHostPort, type HostPort } from '../net/host-port.js';

export interface MetricsHandlers {
  /** The Prometheus text exposition. */
  scrape(): Promise<string>;
  contentType: string;
  /** The process runs and its store is open. */
  healthy(): boolean;
  /** The node state: ready answers 200 on /readyz, any other 503. */
  state(): string;
}

export interface MetricsServer {
  /** HOST:PORT as bound (the port the system chose for port 0). */
  readonly addr: string;
  /** The host as configured. */
  readonly host: string;
  serve(handlers: MetricsHandlers): void;
  close(): Promise<void>;
}

const MAX_CONNECTIONS = 32;
const REQUEST_TIMEOUT_MS = 10_000;
const HEADERS_TIMEOUT_MS = 5_000;
const MAX_HEADER_BYTES = 8 * 1024;

/** Binds HOST:PORT; a port in use or not permitted is a ResourceError, an address not on this machine a ConfigError. */
export async function bindMetricsServer(at: HostPort, onError: (err: Error, path: string) => void): Promise<MetricsServer> {
  let handlers: MetricsHandlers | undefined;
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES, requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS }, (req, res) => {
    void answer(req, res, handlers).catch((err: unknown) => {
      onError(err as Error, req.url ?? '');
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const [reason, kind] = listenReason(err.code ?? '');
      const message = `cannot serve metrics on ${formatHostPort(at)} (${reason})`;
      reject(kind === 'busy' ? new ResourceError(message) : kind === 'config' ? new ConfigError(message) : new ReplikvError(`${message}: ${err.message}`));
    });
    server.listen({ host: at.host, port: at.port }, resolve);
  });
  const bound = server.address() as AddressInfo;
  return {
    addr: formatHostPort({ host: bound.address, port: bound.port }),
    host: at.host,
    serve(h) {
      handlers = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(req: IncomingMessage, res: ServerResponse, h: MetricsHandlers | undefined): Promise<void> {
  // A body is never read: answer, and close the connection rather than drain it.
  if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined) res.shouldKeepAlive = false;
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' && path !== '/healthz' && path !== '/readyz') return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
  if (req.method !== 'GET') {
    res.setHeader('Allow', 'GET');
    return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: only GET\n');
  }
  if (h === undefined) return send(res, 503, 'text/plain; charset=utf-8', 'starting\n');
  if (path === '/metrics') return send(res, 200, h.contentType, await h.scrape());
  if (path === '/healthz') return h.healthy() ? send(res, 200, 'text/plain; charset=utf-8', 'ok\n') : send(res, 503, 'text/plain; charset=utf-8', 'store closed\n');
  const state = h.state();
  send(res, state === 'ready' ? 200 : 503, 'text/plain; charset=utf-8', `${state}\n`);
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(body);
}
