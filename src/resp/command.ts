// The shape of a command: what a handler gets (the node, the connection's session, the front
// end's settings) and what the table says about it. Handlers return replies; they do no I/O but
// through NodeApi, so they run in unit tests without sockets.

import type { NodeApi } from '../control/api.js';
import type { WriteOp, WriteResult } from '../store/keyspace.js';
import type { Reply } from './reply.js';
import type { Session } from './session.js';

export interface RespEnv {
  api: NodeApi;
  /** Largest value a SET may carry (checked before the write is queued). */
  maxValueBytes: number;
  /** Where writes go: api.write, or a batcher in front of it (write-batcher.ts). */
  write(ops: WriteOp[]): Promise<WriteResult[]>;
  /** The password AUTH checks; null: none (a loopback listener). */
  password: string | null;
  /** The daemon's clock, ms since the epoch. */
  now(): number;
  /** The listener's address HOST:PORT (INFO). */
  addr(): string;
  /** Connected clients (INFO). */
  clients(): number;
  /** The sessions of the connected clients (CLIENT LIST; at most maxClients). */
  sessions?(): Session[];
  /** Why the keyspace cannot be served now (the node bootstraps or repairs), or null when it can. */
  loading(): string | null;
  /** A failed AUTH (the shell logs them, a few at a time). */
  authFailed?(session: Session): void;
}

export interface Ctx {
  env: RespEnv;
  session: Session;
}

/** A handler gets every argument, the command name first. */
export type Handler = (c: Ctx, args: Buffer[]) => Reply | Promise<Reply>;

export interface CommandSpec {
  /** Redis arity: N exactly N arguments (the name included), -N at least N. */
  arity: number;
  run: Handler;
  /** Whether this call reads nothing, so it need not wait for the connection's writes in flight. */
  blind?: (args: Buffer[]) => boolean;
  /** Answered before AUTH (AUTH, HELLO, QUIT). */
  noAuth?: boolean;
  /** COMMAND's flags, and the key positions (first, last, step; 0 0 0 for none). */
  flags: string[];
  keys: [number, number, number];
}
