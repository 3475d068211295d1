// A progress bar on stderr when it is a terminal (and nothing at all otherwise), for backup
// create, verify and restore.

import cliProgress from 'cli-progress';

export interface Progress {
  update(value: number, total: number): void;
  stop(): void;
}

const { SingleBar, Presets } = cliProgress;

/** `unit` 'MB' shows byte counts in megabytes; 'keys' shows them as they are. */
export function progressBar(label: string, unit: 'keys' | 'MB'): Progress {
  if (!process.stderr.isTTY) return { update: () => {}, stop: () => {} };
  const scale = unit === 'MB' ? 1e6 : 1;
  const fmt = (n: number) => (unit === 'MB' ? (n / scale).toFixed(1) : String(n));
  const bar = new SingleBar(
    { format: `${label} [{bar}] {percentage}% | {done}/{all} ${unit} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, fps: 5 },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total) {
      const payload = { done: fmt(value), all: fmt(total) };
      if (!started) bar.start(Math.max(total, 1), value, payload);
      else {
        bar.setTotal(Math.max(total, value, 1));
        bar.update(value, payload);
      }
      started = true;
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
