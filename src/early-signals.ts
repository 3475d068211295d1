// Imported first by cli.ts. For `replikv daemon`, a SIGINT or SIGTERM that arrives while the
// modules load (half a second) is noted instead of killing the process with the default action;
// the daemon command then stops before it creates anything. Other commands keep the defaults.

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const seen: NodeJS.Signals[] = [];
const note = (signal: NodeJS.Signals): void => void seen.push(signal);

if (process.argv[2] === 'daemon') for (const s of SIGNALS) process.on(s, note);

/** Stops noting signals (the daemon's own handlers take over) and returns those seen so far. */
export function takeEarlySignals(): NodeJS.Signals[] {
  for (const s of SIGNALS) process.off(s, note);
  return seen.splice(0);
}
