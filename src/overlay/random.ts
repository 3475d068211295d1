// Random choices from small lists, with the random source passed in (a simulator seeds it).

/** Uniform in [0, 1), like Math.random. */
export type Random = () => number;

/** A uniformly random element of `from` not in `skip`. */
export function pick<T>(random: Random, from: readonly T[], skip: readonly T[]): T | undefined {
  const c = skip.length === 0 ? from : from.filter((p) => !skip.includes(p));
  return c.length === 0 ? undefined : c[Math.floor(random() * c.length)];
}

/** Up to n distinct random elements of `from` not in `skip` (a Fisher-Yates shuffle). */
export function sample<T>(random: Random, from: readonly T[], n: number, skip: readonly T[]): T[] {
  const c = from.filter((p) => !skip.includes(p));
  for (let i = c.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [c[i], c[j]] = [c[j]!, c[i]!];
  }
  return c.slice(0, n);
}
