// Splits what a Redis server sent into its replies, RESP2 and RESP3, keeping each reply's raw
// bytes (for byte-for-byte comparison) and a parsed tree (for comparing shapes where replikv
// differs on purpose). For tests: a reply cut short or of an unknown type throws.

/** A parsed reply: its RESP type byte and its value (children for aggregates). */
export interface Parsed {
  type: string;
  value: string | number | null | Parsed[];
}

export interface RawReply {
  /** The reply's bytes, as latin1 text (one char per byte). */
  raw: string;
  parsed: Parsed;
}

/** Every complete reply in `text` (latin1); throws on a partial or unknown one. */
export function splitReplies(text: string): RawReply[] {
  const out: RawReply[] = [];
  let at = 0;
  while (at < text.length) {
    const { parsed, next } = parseAt(text, at);
    out.push({ raw: text.slice(at, next), parsed });
    at = next;
  }
  return out;
}

function parseAt(text: string, at: number): { parsed: Parsed; next: number } {
  const eol = text.indexOf('\r\n', at);
  if (eol < 0) throw new Error(`a reply cut short at byte ${at}: ${JSON.stringify(text.slice(at, at + 80))}`);
  const type = text[at]!;
  const line = text.slice(at + 1, eol);
  const after = eol + 2;
  switch (type) {
    case '+':
    case '-':
    case ',':
    case '(':
      return { parsed: { type, value: line }, next: after };
    case ':':
      return { parsed: { type, value: Number(line) }, next: after };
    case '#':
    case '_':
      return { parsed: { type, value: type === '_' ? null : line }, next: after };
    case '$':
    case '=':
    case '!': {
      const len = Number(line);
      if (len < 0) return { parsed: { type, value: null }, next: after };
      if (text.length < after + len + 2) throw new Error(`a bulk reply cut short at byte ${at}`);
      return { parsed: { type, value: text.slice(after, after + len) }, next: after + len + 2 };
    }
    case '*':
    case '~':
    case '>':
    case '%':
    case '|': {
      const n = Number(line);
      if (n < 0) return { parsed: { type, value: null }, next: after };
      const items: Parsed[] = [];
      let next = after;
      for (let i = 0; i < (type === '%' || type === '|' ? 2 * n : n); i++) {
        const r = parseAt(text, next);
        items.push(r.parsed);
        next = r.next;
      }
      return { parsed: { type, value: items }, next };
    }
    default:
      throw new Error(`unknown reply type ${JSON.stringify(type)} at byte ${at}`);
  }
}

/** A command as a RESP multibulk request (strings as UTF-8). */
export const multibulk = (args: readonly (string | Uint8Array)[]): Buffer =>
  Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => (typeof a === 'string' ? Buffer.from(a) : a)).flatMap((b) => [Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n')])]);
