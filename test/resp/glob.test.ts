// Redis glob patterns (SCAN MATCH, KEYS), checked against Redis's own semantics (util.c stringmatchlen).
import { describe, expect, it } from 'vitest';
import { globMatch, literalPrefix } from '../../src/resp/glob.js';

describe('globMatch', () => {
  it.each([
    ['*', 'anything', true],
    ['*', '', true],
    ['user:*', 'user:1', true],
    ['user:*', 'users:1', false],
    ['h?llo', 'hello', true],
    ['h?llo', 'hllo', false],
    ['h*llo', 'heeeello', true],
    ['h[ae]llo', 'hallo', true],
    ['h[ae]llo', 'hillo', false],
    ['h[^e]llo', 'hallo', true],
    ['h[^e]llo', 'hello', false],
    ['h[a-c]llo', 'hbllo', true],
    ['h[c-a]llo', 'hbllo', true],
    ['h[a-c]llo', 'hdllo', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['a/*', 'a/b/c', true], // no path semantics: * crosses '/'
    ['*.txt', '.hidden.txt', true],
    ['ключ:*', 'ключ:1', true],
    ['?', 'й', true], // one character, not one byte
    ['a[b', 'ab', true], // an unclosed set ends with the pattern, as in Redis
    ['a[b-]', 'a^', true], // a range ending in ']' (']' to 'b'), as in Redis
    ['a[b-]', 'a-', false],
  ])('%s against %s: %s', (pattern, key, expected) => {
    expect(globMatch(pattern, key)).toBe(expected);
  });

  it('gives up on a pathological pattern instead of running for minutes', () => {
    expect(globMatch('*a'.repeat(30) + 'b', 'a'.repeat(60))).toBe(false);
  });

  it('finds the literal prefix that narrows the scan', () => {
    expect(literalPrefix('user:*')).toBe('user:');
    expect(literalPrefix('a\\*b*')).toBe('a*b');
    expect(literalPrefix('*x')).toBe('');
    expect(literalPrefix('plain')).toBe('plain');
    expect(literalPrefix('ab[cd]')).toBe('ab');
  });
});
