// Issue 8, command line: `status` shows the daemon's version and uptime, as text and in --json.
// Real CLI against a real daemon.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Status } from '../../src/control/api.js';
import { Fleet } from '../helpers/daemons.js';
import { eventually } from '../helpers/process.js';

const fleet = new Fleet();
afterEach(() => fleet.cleanup());
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

describe('status', () => {
  it("shows the daemon's package version and its uptime in seconds, growing", async () => {
    const d = await fleet.start();
    const first = await d.cli('status', '--json');
    expect(first.code, first.stderr).toBe(0);
    const s = JSON.parse(first.stdout) as Status;
    expect(s.version).toBe(version);
    expect(Number.isInteger(s.uptimeSeconds) && s.uptimeSeconds >= 0).toBe(true);
    expect(s.uptimeSeconds).toBeLessThan(60);

    // Uptime counts from the daemon's start: it passes the first value within a few seconds.
    const later = await eventually(
      async () => JSON.parse((await d.cli('status', '--json')).stdout) as Status,
      (t) => t.uptimeSeconds > s.uptimeSeconds,
      'uptime to grow',
    );
    expect(later.uptimeSeconds).toBeGreaterThan(s.uptimeSeconds);

    const text = await d.cli('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(new RegExp(`^version\\s+${version.replace(/\./g, '\\.')}$`, 'm'));
    expect(text.stdout).toMatch(/^uptime\s+\d+[dhms]( \d+[dhms])*$/m);
  });
});
