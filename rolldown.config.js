// The `replikv` executable as a bundle (npm run build runs this after tsc). tsc compiles every
// module into dist/ (the library, the tests); this replaces dist/src/cli.js with one built from
// the CLI's own modules and commander: a `replikv get` then loads four files, not ~30 modules and
// commander's CommonJS, which was most of what it spent before sending its request. Other
// packages stay external (lmdb's native module and libp2p load from node_modules as before), and
// the daemon, backup and config code stay lazy, in chunks of their own under dist/src/cli/.
import { rmSync } from 'node:fs';
import { defineConfig } from 'rolldown';

const CHUNKS = 'dist/src/cli';

export default defineConfig({
  input: { cli: 'src/cli.ts' },
  platform: 'node',
  external: (id) => /^[^./]/.test(id) && !/^commander(\/|$)/.test(id),
  // A chunk renamed or gone does not linger in the tarball.
  plugins: [{ name: 'clean-chunks', buildStart: () => rmSync(CHUNKS, { recursive: true, force: true }) }],
  output: {
    dir: 'dist/src',
    format: 'esm',
    sourcemap: true,
    entryFileNames: '[name].js',
    chunkFileNames: 'cli/[name].js',
    codeSplitting: {
      groups: [
        // Noted before anything else loads (see cli.ts), so not in the big chunk below.
        { name: 'early-signals', test: /[\\/]src[\\/]early-signals\.ts$/, priority: 1 },
        // command-line.ts with everything it imports: what every control command loads, one file.
        { name: 'command-line', test: /[\\/]src[\\/]command-line\.ts$/ },
      ],
    },
  },
});
