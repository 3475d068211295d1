// Replies of the Redis protocol and their encoding in RESP2 and RESP3. Hand-written: the encoder is
// a few dozen lines, and the npm RESP packages are client-side parsers (redis-parser) or whole
// clients; none encodes a server's replies for both protocol versions.
//
// A command handler returns plain values: a number is an integer reply, bytes (or a string) a bulk
// string, null the null reply, an array an array; the classes below mark the rest.

/** A status reply: +OK */
export class Simple {
  constructor(readonly text: string) {}
}

/** An error reply; `text` starts with its code (ERR, WRONGPASS, NOAUTH, ...); bytes when it quotes a client's (sent as they are). */
export class ErrorReply {
  constructor(readonly text: string | Uint8Array) {}
}

/** A map (RESP3 %); in RESP2 the flat array key, value, key, value. */
export class MapReply {
  constructor(readonly entries: readonly (readonly [Reply, Reply])[]) {}
}

/** Text that RESP3 clients may show as is (= verbatim string, "txt"); a bulk string in RESP2. */
export class Verbatim {
  constructor(readonly text: string) {}
}

/** A set (RESP3 ~, e.g. COMMAND INFO's flags); in RESP2 an array. */
export class SetReply {
  constructor(readonly items: readonly Reply[]) {}
}

export type Reply = number | string | Uint8Array | null | Simple | ErrorReply | MapReply | Verbatim | SetReply | readonly Reply[];

export const OK = new Simple('OK');
/** An error with the generic code ERR. */
export const err = (text: string): ErrorReply => new ErrorReply(`ERR ${text}`);

/** Protocol version of a connection: 2 until HELLO 3. */
export type Proto = 2 | 3;

const CRLF = '\r\n';

/** Appends the encoding of `r` to `out` (strings and byte chunks, joined by the caller). */
export function encodeReply(r: Reply, proto: Proto, out: (string | Uint8Array)[]): void {
  if (typeof r === 'number') {
    out.push(`:${r}${CRLF}`);
  } else if (typeof r === 'string') {
    out.push(`$${Buffer.byteLength(r)}${CRLF}${r}${CRLF}`);
  } else if (r === null) {
    out.push(proto === 3 ? `_${CRLF}` : `$-1${CRLF}`);
  } else if (r instanceof Uint8Array) {
    out.push(`$${r.length}${CRLF}`, r, CRLF);
  } else if (r instanceof Simple) {
    out.push(`+${oneLine(r.text)}${CRLF}`);
  } else if (r instanceof ErrorReply) {
    if (typeof r.text === 'string') out.push(`-${oneLine(r.text)}${CRLF}`);
    else out.push('-', oneLineBytes(r.text), CRLF);
  } else if (r instanceof MapReply) {
    out.push(proto === 3 ? `%${r.entries.length}${CRLF}` : `*${r.entries.length * 2}${CRLF}`);
    for (const [k, v] of r.entries) {
      encodeReply(k, proto, out);
      encodeReply(v, proto, out);
    }
  } else if (r instanceof SetReply) {
    out.push(`${proto === 3 ? '~' : '*'}${r.items.length}${CRLF}`);
    for (const item of r.items) encodeReply(item, proto, out);
  } else if (r instanceof Verbatim) {
    if (proto === 3) out.push(`=${Buffer.byteLength(r.text) + 4}${CRLF}txt:${r.text}${CRLF}`);
    else encodeReply(r.text, proto, out);
  } else {
    out.push(`*${r.length}${CRLF}`);
    for (const item of r) encodeReply(item, proto, out);
  }
}

/** One reply as bytes (tests, and the shell's rare single replies). */
export function encodeOne(r: Reply, proto: Proto): Buffer {
  const out: (string | Uint8Array)[] = [];
  encodeReply(r, proto, out);
  return Buffer.concat(out.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
}

/**
 * Status and error lines may not hold CR or LF: they would end the reply early. As Redis: those at
 * the end are dropped, each other one is a space.
 */
function oneLine(text: string): string {
  return /[\r\n]/.test(text) ? text.replace(/[\r\n]+$/, '').replace(/[\r\n]/g, ' ') : text;
}

function oneLineBytes(text: Uint8Array): Uint8Array {
  const crlf = (b: number | undefined) => b === 0x0d || b === 0x0a;
  let end = text.length;
  while (end > 0 && crlf(text[end - 1])) end--;
  return text.subarray(0, end).map((b) => (crlf(b) ? 0x20 : b));
}
