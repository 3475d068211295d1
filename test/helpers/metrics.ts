// Scraping a daemon's metrics endpoint over HTTP and reading it with a Prometheus text parser
// nobody here wrote (parse-prometheus-text-format).
import parsePrometheusTextFormat, { type Family, type Sample } from 'parse-prometheus-text-format';
import type { TestDaemon } from './daemons.js';

export interface Scrape {
  families: Map<string, Family>;
  text: string;
  contentType: string | null;
}

export async function httpGet(addr: string, path: string, method = 'GET'): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(`http://${addr}${path}`, { method });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** The daemon's metrics address, from its status. */
export async function metricsAddr(d: TestDaemon): Promise<string> {
  const s = await d.status();
  if (s.metrics == null) throw new Error('the daemon serves no metrics');
  return s.metrics.addr;
}

export async function scrape(addr: string): Promise<Scrape> {
  const r = await httpGet(addr, '/metrics');
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}: ${r.body}`);
  return { families: new Map(parsePrometheusTextFormat(r.body).map((f) => [f.name, f])), text: r.body, contentType: r.headers.get('content-type') };
}

/** The family, or a failure naming it. */
export function family(s: Scrape, name: string): Family {
  const f = s.families.get(name);
  if (f === undefined) throw new Error(`no metric ${name} in the scrape`);
  return f;
}

const matches = (sample: Sample, labels: Record<string, string>) => Object.entries(labels).every(([k, v]) => sample.labels?.[k] === v);

/** The value of the one sample of `name` with these labels; undefined if there is none. */
export function value(s: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = family(s, name).metrics.filter((m) => matches(m, labels));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value === undefined ? undefined : Number(found[0].value);
}
