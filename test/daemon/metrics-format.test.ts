// The metrics text as a scraper reads it, from a real daemon in the state that holds unknown values
// (no peers: no member clock for GC, no bootstrap running): every sample value is a number in the
// Prometheus text format, and an unknown one is written `NaN` (prom-client 15 writes `Nan`).
import { afterEach, describe, expect, it } from 'vitest';
import { Fleet } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';
import { httpGet, metricsAddr, scrape, value } from '../helpers/metrics.js';

const fleet = new Fleet();
afterEach(async (ctx) => {
  if (ctx.task.result?.state === 'fail') console.error(fleet.logs(25));
  await fleet.cleanup();
});

/** A sample value as the exposition format spells it: a Go float, NaN, +Inf or -Inf. */
const FLOAT = /^(NaN|[+-]Inf|[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)$/;

/** The value token of a sample line: after the closing brace of its labels, or after its name. */
function valueToken(line: string): string {
  const rest = line.includes('}') ? line.slice(line.lastIndexOf('}') + 1) : line.slice(line.indexOf(' '));
  return rest.trim().split(/\s+/)[0]!;
}

describe('the metrics text', () => {
  it('a daemon with no peers: unknown values are NaN, and every sample value parses', async () => {
    const d = await fleet.start({ extra: ['--metrics', '127.0.0.1:0'] });
    const addr = await metricsAddr(d);
    await eventually(() => httpGet(addr, '/metrics'), (r) => r.status === 200, '/metrics to answer 200', 60_000);
    const s = await scrape(addr);
    const samples = s.text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples.length).toBeGreaterThan(50);
    const tokens = samples.map(valueToken);
    expect(tokens).not.toContain('Nan');
    const bad = samples.filter((_, i) => !FLOAT.test(tokens[i]!));
    expect(bad).toEqual([]);
    // the unknown ones are there, and read as NaN by a parser nobody here wrote
    expect(samples).toContain('replikv_gc_stable_age_seconds NaN');
    expect(samples).toContain('replikv_bootstrap_eta_seconds NaN');
    expect(value(s, 'replikv_gc_stable_age_seconds')).toBeNaN();
    expect(value(s, 'replikv_keys')).toBe(0);
  });
});
