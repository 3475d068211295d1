import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';
import { LmdbBackend } from '../../src/store/lmdb-backend.js';
import { MemoryBackend } from '../../src/store/memory-backend.js';
import { backendContract } from './backend-contract.js';

describe('LMDB backend', () => {
  backendContract(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'replikv-be-'));
    const backend = new LmdbBackend(dir);
    return {
      backend,
      cleanup: async () => {
        await backend.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  });
});

describe('memory backend', () => {
  backendContract(async () => {
    const backend = new MemoryBackend();
    return { backend, cleanup: () => backend.close() };
  });
});
