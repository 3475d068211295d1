// Shared fast-check generators for the core tests.
import fc from 'fast-check';

/** A handful of fixed replica ids, so generated clocks overlap often. */
export const REPLICAS = ['0'.repeat(31) + '1', '0'.repeat(31) + '2', 'a'.repeat(32), 'f'.repeat(31) + '0', '7'.repeat(32)];

export const replica = fc.constantFrom(...REPLICAS);

/** A set of dots, as (replica, counter) pairs with small counters so intervals form and touch. */
export const dotSet = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 40 })), { maxLength: 60 });

/** Runs fn; it may succeed, but if it throws, the error must be an instance of `type`. */
export function throwsOnly(type: abstract new (...args: never[]) => Error, fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof type)) throw new Error(`expected only ${type.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  }
}
