// Shared fast-check generators for the core tests.
import fc from 'fast-check';

/** A handful of fixed replica ids, so generated clocks overlap often. */
export const REPLICAS = ['0'.repeat(31) + '1', '0'.repeat(31) + '2', 'a'.repeat(32), 'f'.repeat(31) + '0', '7'.repeat(32)];

export const replica = fc.constantFrom(...REPLICAS);

/** A set of dots, as (replica, counter) pairs with small counters so intervals form and touch. */
export const dotSet = fc.array(fc.tuple(replica, fc.integer({ min: 1, max: 40 })), { maxLength: 60 });
