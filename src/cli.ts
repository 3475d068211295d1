#!/usr/bin/env node
// The `replikv` executable. It notes early signals before anything else loads (early-signals.ts:
// a daemon's SIGTERM during the half second of module loading is not lost), then loads the
// command line itself and runs it. The one top-level await is here: the daemon's modules, loaded
// later, may share modules with command-line.ts (in the bundle, its chunk), which must then be
// done evaluating, or the import would wait on itself.
import './early-signals.js';

const { main, EXIT } = await import('./command-line.js');

// A reader that stops early (`replikv scan | head`) closes the pipe: that ends the output, not in
// a crash with a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? EXIT.ok);
  throw err;
});

process.exitCode = await main(process.argv.slice(2));
