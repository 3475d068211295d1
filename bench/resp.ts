// A minimal RESP2 client for the bootstrap benchmark: enough to fill a Redis primary with pipelined
// MSETs and to poll a replica's INFO and DBSIZE. No npm client is a dependency of replikv, and the
// benchmark needs only simple strings, errors, integers and bulk strings.
import { connect, type Socket } from 'node:net';

export type Reply = string | number | null;

interface Waiter {
  resolve(v: Reply): void;
  reject(e: Error): void;
}

export class Resp {
  private buf: Buffer = Buffer.alloc(0);
  private readonly waiting: Waiter[] = [];
  private closed: Error | undefined;

  private constructor(private readonly sock: Socket) {
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', (e) => this.fail(e));
    sock.on('close', () => this.fail(new Error('the Redis connection closed')));
  }

  static connect(port: number): Promise<Resp> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port });
      s.setNoDelay(true);
      s.once('error', reject);
      s.once('connect', () => {
        s.removeListener('error', reject);
        resolve(new Resp(s));
      });
    });
  }

  /** Sends one command (pipelined behind any unanswered ones); an error reply rejects. */
  call(...args: (string | Uint8Array)[]): Promise<Reply> {
    if (this.closed !== undefined) return Promise.reject(this.closed);
    const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
    for (const a of args) {
      const bytes = typeof a === 'string' ? Buffer.from(a) : a;
      parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes as Buffer, CRLF);
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.sock.write(Buffer.concat(parts));
    });
  }

  close(): void {
    this.sock.destroy();
  }

  private fail(e: Error): void {
    this.closed ??= e;
    for (const w of this.waiting.splice(0)) w.reject(e);
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let at = 0;
    for (;;) {
      let parsed: ReturnType<typeof parseReply>;
      try {
        parsed = parseReply(this.buf, at);
      } catch (err) {
        this.sock.destroy();
        return this.fail(err as Error);
      }
      if (parsed === undefined) break;
      at = parsed.next;
      const w = this.waiting.shift();
      if (w === undefined) return this.fail(new Error('a Redis reply nobody asked for'));
      if (parsed.value instanceof Error) w.reject(parsed.value);
      else w.resolve(parsed.value);
    }
    this.buf = this.buf.subarray(at);
  }
}

const CRLF = Buffer.from('\r\n');

/** One reply starting at `at`, or undefined if it has not fully arrived. */
function parseReply(buf: Buffer, at: number): { value: Reply | Error; next: number } | undefined {
  const eol = buf.indexOf(CRLF, at);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', at + 1, eol);
  switch (buf[at]) {
    case 0x2b: // +
      return { value: line, next: eol + 2 };
    case 0x2d: // -
      return { value: new Error(`Redis: ${line}`), next: eol + 2 };
    case 0x3a: // :
      return { value: Number(line), next: eol + 2 };
    case 0x24: {
      // $
      const len = Number(line);
      if (len < 0) return { value: null, next: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + len), next: eol + 2 + len + 2 };
    }
    default:
      throw new Error(`unsupported Redis reply type ${String.fromCharCode(buf[at]!)}`);
  }
}
