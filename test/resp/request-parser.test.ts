// The request parser: any split of the bytes gives the same commands; inline lines split like
// redis-cli's sdssplitargs; every limit is refused as soon as its header arrives.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ProtocolError, RequestParser, splitArgs } from '../../src/resp/request-parser.js';

const LIMITS = { maxInlineBytes: 1024, maxBulkBytes: 4096, maxArgs: 64, maxCommandBytes: 8192 };

function encode(args: Uint8Array[]): Buffer {
  return Buffer.concat([Buffer.from(`*${args.length}\r\n`), ...args.flatMap((a) => [Buffer.from(`$${a.length}\r\n`), Buffer.from(a), Buffer.from('\r\n')])]);
}

function parseAll(chunks: Buffer[], limits = LIMITS): Buffer[][] {
  const p = new RequestParser(limits);
  const out: Buffer[][] = [];
  for (const c of chunks) {
    p.push(c);
    for (let cmd = p.next(); cmd !== undefined; cmd = p.next()) out.push(cmd);
  }
  return out;
}

describe('RequestParser', () => {
  it('gives back the commands sent, however the bytes are split', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (cmds, cuts) => {
          const bytes = Buffer.concat(cmds.map(encode));
          const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
          const chunks = [0, ...at].map((from, i) => bytes.subarray(from, at[i] ?? bytes.length)).filter((c) => c.length > 0);
          const got = parseAll(chunks).map((c) => c.map((a) => [...a]));
          expect(got).toEqual(cmds.map((c) => c.map((a) => [...a])));
        },
      ),
    );
  });

  it('reads inline commands, with quotes and escapes as redis-cli writes them', () => {
    expect(parseAll([Buffer.from('PING\r\nSET k "a b\\x41\\n" \'it\\\'s\'\nGET k\r\n')]).map((c) => c.map(String))).toEqual([
      ['PING'],
      ['SET', 'k', 'a bA\n', "it's"],
      ['GET', 'k'],
    ]);
    expect(splitArgs(Buffer.from('   '))).toEqual([]);
    expect(() => splitArgs(Buffer.from('SET "unterminated'))).toThrow(ProtocolError);
    expect(() => splitArgs(Buffer.from('SET "a"b'))).toThrow(ProtocolError);
  });

  it('refuses a huge bulk length at its header, before any of its bytes', () => {
    const p = new RequestParser(LIMITS);
    p.push(Buffer.from('*2\r\n$3\r\nGET\r\n$999999999999\r\n'));
    expect(() => p.next()).toThrow(/invalid bulk length/);
  });

  it('refuses too many arguments, a command over its byte limit, and bad headers', () => {
    const bad = (text: string, re: RegExp) => {
      const p = new RequestParser(LIMITS);
      p.push(Buffer.from(text));
      expect(() => p.next()).toThrow(re);
    };
    bad('*65\r\n', /multibulk length/);
    bad('*x\r\n', /invalid multibulk length/);
    bad('*1\r\n+OK\r\n', /expected '\$'/);
    bad('*1\r\n$2\r\nabc\r\n', /does not end with CRLF/);
    bad('*1\r\n$-1\r\n', /invalid bulk length/);
    const p = new RequestParser(LIMITS);
    p.push(Buffer.from('*3\r\n$4000\r\n' + 'a'.repeat(4000) + '\r\n$4000\r\n' + 'b'.repeat(4000) + '\r\n$300\r\n'));
    expect(() => p.next()).toThrow(/command larger than 8192/);
  });

  it('refuses an inline line that never ends once it passes the limit', () => {
    const p = new RequestParser(LIMITS);
    p.push(Buffer.from('GET ' + 'k'.repeat(1000)));
    expect(p.next()).toBeUndefined();
    p.push(Buffer.from('k'.repeat(100)));
    expect(() => p.next()).toThrow(/too big inline request/);
  });

  it('keeps the chunks of a long value apart until it is whole', () => {
    const value = Buffer.alloc(4000, 7);
    const bytes = encode([Buffer.from('SET'), Buffer.from('k'), value]);
    const chunks = Array.from({ length: Math.ceil(bytes.length / 100) }, (_, i) => bytes.subarray(i * 100, (i + 1) * 100));
    const p = new RequestParser(LIMITS);
    let got: Buffer[] | undefined;
    for (const c of chunks) {
      p.push(c);
      got = p.next() ?? got;
    }
    expect(got![2]!.equals(value)).toBe(true);
    expect(p.buffered).toBe(0);
  });
});
