// The package version, for `replikv --version` and the daemon's status. package.json is found by
// walking up from this module: it sits two levels up from dist/src/version.js, one from
// src/version.ts (tests run the sources).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function packageJson(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the replikv modules');
    dir = up;
  }
  return join(dir, 'package.json');
}

export const VERSION = (JSON.parse(readFileSync(packageJson(), 'utf8')) as { version: string }).version;
