#!/usr/bin/env node
// The `replikv` executable. It notes early signals before anything else loads (early-signals.ts:
// a daemon's SIGTERM during the half second of module loading is not lost), then loads the
// command line itself.
import './early-signals.js';

await import('./command-line.js');
