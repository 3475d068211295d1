// The exactness rule for command-line arguments: a U+FFFD the user typed passes, one Node made up
// from bytes that are not UTF-8 is refused, and an argument we cannot check is refused too.
import { describe, expect, it } from 'vitest';
import { exactBound, exactKey, exactValue, keyFromBase64, mayBeChanged, rawArgsOf } from '../../src/control/argv-bytes.js';

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p))));
/** /proc/self/cmdline for `node --opt cli.js ARGS...`: NUL after every argument. */
const cmdline = (...args: Buffer[]) => Buffer.concat([bytes('node'), bytes([0]), bytes('--enable-source-maps'), bytes([0]), bytes('cli.js'), bytes([0]), ...args.flatMap((a) => [a, bytes([0])])]);

describe('rawArgsOf', () => {
  it('takes the user arguments from the end of the command line when they decode to argv', () => {
    const raw = [bytes('put'), bytes('k', [0xff]), bytes('v')];
    const args = raw.map((r) => r.toString('utf8'));
    expect(args[1]).toBe('k\uFFFD');
    expect(rawArgsOf(cmdline(...raw), args)).toEqual(raw);
    expect(rawArgsOf(cmdline(), [])).toEqual([]);
  });

  it('gives up when the command line does not match argv (then nothing with U+FFFD passes)', () => {
    expect(rawArgsOf(cmdline(bytes('put'), bytes('a')), ['put', 'b'])).toBeUndefined();
    expect(rawArgsOf(bytes('put'), ['a', 'put'])).toBeUndefined();
  });
});

describe('mayBeChanged', () => {
  const typed = bytes([0xef, 0xbf, 0xbd]); // U+FFFD in UTF-8: the user really typed it
  const invalid = bytes([0xff]);

  it('passes anything without U+FFFD, even without raw bytes', () => {
    expect(mayBeChanged('plain key', ['put', 'plain key', 'v'], undefined)).toBe(false);
  });

  it('passes a U+FFFD the user typed and refuses one made from invalid bytes', () => {
    expect(mayBeChanged('\uFFFD', ['get', '\uFFFD'], [bytes('get'), typed])).toBe(false);
    expect(mayBeChanged('\uFFFD', ['get', '\uFFFD'], [bytes('get'), invalid])).toBe(true);
  });

  it('checks the --option=VALUE form too', () => {
    expect(mayBeChanged('a\uFFFD', ['scan', '--prefix=a\uFFFD'], [bytes('scan'), bytes('--prefix=a', [0xff])])).toBe(true);
    expect(mayBeChanged('a\uFFFD', ['scan', '--prefix=a\uFFFD'], [bytes('scan'), bytes('--prefix=a', [0xef, 0xbf, 0xbd])])).toBe(false);
  });

  it('refuses when any argument the value may have come from was not UTF-8, or none matches', () => {
    expect(mayBeChanged('\uFFFD', ['put', '\uFFFD', '\uFFFD'], [bytes('put'), typed, invalid])).toBe(true);
    expect(mayBeChanged('\uFFFD', ['put', 'x'], [bytes('put'), bytes('x')])).toBe(true);
  });

  it('refuses any U+FFFD when the raw bytes are unknown (no /proc)', () => {
    expect(mayBeChanged('\uFFFD', ['get', '\uFFFD'], undefined)).toBe(true);
  });

  it('tells key, value and bound errors apart and names the way out', () => {
    const from = { args: ['put', '\uFFFD', '\uFFFD'], raw: undefined };
    expect(() => exactKey('\uFFFD', from)).toThrow(expect.objectContaining({ code: 'INVALID_KEY', message: expect.stringContaining('--key-base64') }));
    expect(() => exactValue('\uFFFD', from)).toThrow(expect.objectContaining({ code: 'INVALID_VALUE', message: expect.stringContaining('pass -') }));
    expect(() => exactBound('\uFFFD', '--prefix', from)).toThrow(/invalid --prefix/);
    expect(exactKey('ok', from)).toBe('ok');
  });
});

describe('keyFromBase64', () => {
  it('decodes canonical padded base64 of UTF-8 bytes exactly', () => {
    for (const key of ['a', '-leading-dash', 'line\nbreak', 'tab\tand \u00e9\u{1F600}', 'x'.repeat(1024)]) {
      expect(keyFromBase64(Buffer.from(key, 'utf8').toString('base64'))).toBe(key);
    }
  });

  it('refuses non-canonical base64, bytes that are not UTF-8, and keys out of bounds', () => {
    expect(() => keyFromBase64('QR==')).toThrow(/not canonical padded base64/); // stray low bits
    expect(() => keyFromBase64('QQ')).toThrow(/not canonical padded base64/); // no padding
    expect(() => keyFromBase64('Q Q==')).toThrow(/not canonical padded base64/);
    expect(() => keyFromBase64('/w==')).toThrow(/not valid UTF-8/);
    expect(() => keyFromBase64('')).toThrow(/empty string is not a key/);
    expect(() => keyFromBase64(Buffer.alloc(1025, 97).toString('base64'))).toThrow(/1025 bytes of UTF-8, the limit is 1024/);
    expect(() => keyFromBase64('/w==')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });
});
