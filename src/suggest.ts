// "Did you mean ...?" for a misspelt name (a config field): the closest known name by edit distance,
// or one the given name is a prefix of (gossipInterval -> gossipIntervalMs). Commander does this for
// flags, but does not export its helper.

const MAX_DISTANCE = 3;

/** The known name closest to `given`, if one is close enough to be what was meant. */
export function closest(given: string, known: readonly string[]): string | undefined {
  const g = given.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase().startsWith(g) && g.length >= 4 ? 1 : distance(g, k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return bestDistance <= Math.min(MAX_DISTANCE, Math.floor(given.length / 3) + 1) ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein plus swaps of neighbours). */
function distance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > MAX_DISTANCE) return Infinity;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
