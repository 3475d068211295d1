// Reads client commands off a byte stream: RESP arrays of bulk strings (what every client sends)
// and inline commands (a line of words, as typed into telnet). Hand-written rather than the npm
// redis-parser: that one parses a server's replies (any type, nested), knows no inline commands,
// and buffers a bulk string of any announced length before anyone can refuse it. Here every
// length is checked as soon as its header arrives, so a client grows no buffer past the limits.

export class ProtocolError extends Error {}

export interface RequestLimits {
  /** Longest inline command line (Redis: 64 KiB). */
  maxInlineBytes: number;
  /** Longest bulk string (the value limit plus room). */
  maxBulkBytes: number;
  /** Most arguments in one command. */
  maxArgs: number;
  /** Most bytes of bulk strings in one command. */
  maxCommandBytes: number;
}

const CR = 0x0d;
const LF = 0x0a;
const STAR = 0x2a;
const DOLLAR = 0x24;

/** Feed bytes with push(); take complete commands with next() until it returns undefined. */
export class RequestParser {
  private buf: Buffer = Buffer.alloc(0);
  private at = 0;
  // a multibulk command in progress
  private args: Buffer[] | null = null;
  private expected = 0;
  private bytes = 0;
  private bulkLen = -1;
  // Chunks of a long bulk string are kept apart until it is whole: joining at every chunk would
  // copy a 16 MiB value hundreds of times.
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly limits: RequestLimits) {}

  push(chunk: Buffer): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
  }

  /** Bytes received and not yet part of a complete command. */
  get buffered(): number {
    return this.buf.length - this.at + this.pendingBytes;
  }

  private join(): void {
    if (this.pendingBytes === 0) return;
    if (this.bulkLen >= 0 && this.buf.length - this.at + this.pendingBytes < this.bulkLen + 2) return;
    const rest = this.at >= this.buf.length ? [] : [this.buf.subarray(this.at)];
    const parts = [...rest, ...this.pending];
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.at = 0;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** The next complete command (its arguments; empty for a blank inline line), or undefined. Throws ProtocolError. */
  next(): Buffer[] | undefined {
    this.join();
    for (;;) {
      if (this.args === null) {
        if (this.at >= this.buf.length) return undefined;
        if (this.buf[this.at] !== STAR) return this.inline();
        const n = this.header('multibulk');
        if (n === undefined) return undefined;
        if (n > this.limits.maxArgs) throw new ProtocolError(`invalid multibulk length (at most ${this.limits.maxArgs} arguments)`);
        if (n <= 0) continue; // *0 and *-1 are no command, as in Redis
        this.args = [];
        this.expected = n;
        this.bytes = 0;
      }
      while (this.args.length < this.expected) {
        if (this.bulkLen < 0) {
          if (this.at >= this.buf.length) return undefined;
          if (this.buf[this.at] !== DOLLAR) throw new ProtocolError(`expected '$', got '${printable(this.buf[this.at]!)}'`);
          const len = this.header('bulk');
          if (len === undefined) return undefined;
          if (len < 0) throw new ProtocolError('invalid bulk length');
          if (len > this.limits.maxBulkBytes) throw new ProtocolError(`invalid bulk length (at most ${this.limits.maxBulkBytes} bytes)`);
          this.bytes += len;
          if (this.bytes > this.limits.maxCommandBytes) throw new ProtocolError(`command larger than ${this.limits.maxCommandBytes} bytes: split it`);
          this.bulkLen = len;
        }
        if (this.buf.length - this.at < this.bulkLen + 2) return undefined;
        const end = this.at + this.bulkLen;
        if (this.buf[end] !== CR || this.buf[end + 1] !== LF) throw new ProtocolError('a bulk string does not end with CRLF');
        this.args.push(this.buf.subarray(this.at, end));
        this.at = end + 2;
        this.bulkLen = -1;
      }
      const args = this.args;
      this.args = null;
      return args;
    }
  }

  /** `*N` or `$N` followed by CRLF: N, or undefined until the line is complete. */
  private header(what: string): number | undefined {
    const eol = this.buf.indexOf(LF, this.at);
    if (eol < 0 || eol - this.at > 32) {
      if (this.buf.length - this.at > 32) throw new ProtocolError(`invalid ${what} length`);
      return undefined;
    }
    const text = this.buf.toString('latin1', this.at + 1, eol);
    // as Redis's string2ll: no '+', no leading zeros, no "-0"
    if (!/^(0|-?[1-9]\d{0,14})\r$/.test(text)) throw new ProtocolError(`invalid ${what} length`);
    this.at = eol + 1;
    return Number(text.slice(0, -1));
  }

  private inline(): Buffer[] | undefined {
    const eol = this.buf.indexOf(LF, this.at);
    if (eol < 0) {
      if (this.buf.length - this.at > this.limits.maxInlineBytes) throw new ProtocolError('too big inline request');
      return undefined;
    }
    if (eol - this.at > this.limits.maxInlineBytes) throw new ProtocolError('too big inline request');
    const line = this.buf.subarray(this.at, eol > this.at && this.buf[eol - 1] === CR ? eol - 1 : eol);
    this.at = eol + 1;
    const args = splitArgs(line);
    if (args.length > this.limits.maxArgs) throw new ProtocolError(`too many arguments (at most ${this.limits.maxArgs})`);
    return args;
  }
}

/**
 * An inline line split into words as Redis's sdssplitargs does: blanks separate, "double quotes"
 * take \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' take \'. A quote must be followed
 * by a blank or the end.
 */
export function splitArgs(line: Uint8Array): Buffer[] {
  const s = Buffer.from(line).toString('latin1'); // one char per byte: escapes make bytes back
  const out: Buffer[] = [];
  let i = 0;
  const blank = (c: string | undefined) => c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
  for (;;) {
    while (blank(s[i])) i++;
    if (i >= s.length) return out;
    let word = '';
    const quote = s[i] === '"' || s[i] === "'" ? s[i++] : undefined;
    for (;;) {
      if (i >= s.length) {
        if (quote !== undefined) throw new ProtocolError('unbalanced quotes in request');
        break;
      }
      const c = s[i]!;
      if (quote === undefined) {
        if (blank(c)) break;
        word += c;
        i++;
      } else if (c === quote) {
        i++;
        if (i < s.length && !blank(s[i])) throw new ProtocolError('unbalanced quotes in request');
        break;
      } else if (c === '\\' && quote === '"' && /^x[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 4))) {
        word += String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16));
        i += 4;
      } else if (c === '\\' && i + 1 < s.length && (quote === '"' || s[i + 1] === "'")) {
        const e = s[i + 1]!;
        word += quote === '"' ? (({ n: '\n', r: '\r', t: '\t', b: '\b', a: '\x07' }) as Record<string, string>)[e] ?? e : e;
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    out.push(Buffer.from(word, 'latin1'));
  }
}

function printable(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`;
}
