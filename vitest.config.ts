import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['src/polyfill.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests spawn real processes and open real LMDB files: keep parallelism modest on 2 cores.
    maxWorkers: 2,
  },
});
