// Configuration: a JSON file validated against a schema, then command-line flags on top.
// A wrong file is refused with the field and the reason, before anything is opened.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

export const ConfigSchema = z.strictObject({
  /** Where the store, identity and control socket live. */
  dataDir: z.string().min(1).default('./data'),
  /** strict: a write is on disk before it is acknowledged; relaxed: on disk within a second. */
  durability: z.enum(['strict', 'relaxed']).default('strict'),
  /** Largest value accepted, in bytes. */
  maxValueBytes: z
    .number()
    .int()
    .min(1)
    .max(256 * 1024 * 1024)
    .default(16 * 1024 * 1024),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Loads and validates a config file (if given), applies overrides, resolves paths. */
export function loadConfig(file: string | undefined, overrides: Partial<Config> = {}): Config {
  let raw: unknown = {};
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`config file ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const merged = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? { ...raw, ...defined } : raw;
  const result = ConfigSchema.safeParse(merged);
  if (!result.success) {
    const where = file ?? 'configuration';
    const reasons = result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ConfigError(`invalid ${where}: ${reasons.join('; ')}`);
  }
  return { ...result.data, dataDir: resolve(result.data.dataDir) };
}
