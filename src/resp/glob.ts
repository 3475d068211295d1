// Redis's glob patterns (stringmatchlen in util.c) for SCAN MATCH and KEYS: * any run, ? one
// character, [abc] [^abc] [a-z] sets, \x the character x. Hand-written because the npm glob
// matchers (picomatch, minimatch) match file paths: * stops at '/', dot-files and braces are
// special, none of which holds for Redis keys.

/** Does `key` match the Redis glob `pattern`? Both as text (code points, as replikv keys are UTF-8). */
export function globMatch(pattern: string, key: string): boolean {
  return match([...pattern], 0, [...key], 0, { steps: 0 });
}

/** The text every matching key starts with: the pattern up to its first special character. */
export function literalPrefix(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' || c === '?' || c === '[') return out;
    if (c === '\\') {
      if (i + 1 >= pattern.length) return out;
      out += pattern[++i];
    } else out += c;
  }
  return out;
}

/** A pattern with a million stars against a long key must not run for minutes (Redis caps it too). */
const MAX_STEPS = 1_000_000;

function match(p: string[], pi: number, s: string[], si: number, budget: { steps: number }): boolean {
  while (pi < p.length) {
    if (++budget.steps > MAX_STEPS) return false;
    const c = p[pi]!;
    if (c === '*') {
      while (p[pi + 1] === '*') pi++;
      if (pi + 1 === p.length) return true;
      for (let k = si; k <= s.length; k++) if (match(p, pi + 1, s, k, budget)) return true;
      return false;
    }
    if (si >= s.length) return false;
    if (c === '?') {
      pi++;
      si++;
      continue;
    }
    if (c === '[') {
      const end = setMatch(p, pi + 1, s[si]!);
      if (end.next < 0 || !end.matched) return false;
      pi = end.next;
      si++;
      continue;
    }
    const lit = c === '\\' && pi + 1 < p.length ? p[++pi]! : c;
    if (lit !== s[si]) return false;
    pi++;
    si++;
  }
  return si === s.length;
}

/** A [...] set starting after '[' at `i`: whether `ch` is in it, and where the pattern goes on. */
function setMatch(p: string[], i: number, ch: string): { matched: boolean; next: number } {
  const not = p[i] === '^';
  if (not) i++;
  let matched = false;
  for (;;) {
    // Redis treats an unclosed set as closed at the end of the pattern
    if (i >= p.length) return { matched: matched !== not, next: p.length };
    const c = p[i]!;
    if (c === ']') return { matched: matched !== not, next: i + 1 };
    if (c === '\\' && i + 1 < p.length) {
      if (p[i + 1] === ch) matched = true;
      i += 2;
    } else if (p[i + 1] === '-' && i + 2 < p.length) {
      // a range even when it ends in ']' ([a-] is ']' to 'a', the set left unclosed), as in Redis
      let lo = c.codePointAt(0)!;
      let hi = p[i + 2]!.codePointAt(0)!;
      if (lo > hi) [lo, hi] = [hi, lo];
      const x = ch.codePointAt(0)!;
      if (x >= lo && x <= hi) matched = true;
      i += 3;
    } else {
      if (c === ch) matched = true;
      i++;
    }
  }
}
