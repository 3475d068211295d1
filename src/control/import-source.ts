// What the library's import() takes, turned into the NDJSON bytes POST /v1/import reads: raw
// NDJSON (text, bytes, or a stream of them) or records, any mix of them in one iterable.

import type { Readable } from 'node:stream';

/** One line of an import: a value to store (text or bytes), or null to delete the key. */
export interface ImportRecord {
  key: string;
  value: string | Uint8Array | null;
  /** Seconds the value lives after the daemon reads the line (a whole number from 1). */
  ttl?: number;
}

/** NDJSON as text or bytes, a stream of NDJSON chunks, or records (synchronous or not). */
export type ImportSource =
  | string
  | Uint8Array
  | Readable
  | Iterable<ImportRecord | string | Uint8Array>
  | AsyncIterable<ImportRecord | string | Uint8Array>;

// Records are sent in pieces of about this size rather than a write each.
const PIECE_BYTES = 64 * 1024;

/** The source as NDJSON bytes; strings and bytes pass through as they are (they are NDJSON already). */
export async function* ndjsonOf(source: ImportSource): AsyncGenerator<Uint8Array> {
  if (typeof source === 'string' || source instanceof Uint8Array) {
    yield typeof source === 'string' ? Buffer.from(source) : source;
    return;
  }
  let piece: string[] = [];
  let size = 0;
  for await (const item of source as AsyncIterable<ImportRecord | string | Uint8Array>) {
    if (typeof item === 'string' || item instanceof Uint8Array) {
      if (piece.length > 0) yield Buffer.from(piece.join(''));
      piece = [];
      size = 0;
      yield typeof item === 'string' ? Buffer.from(item) : item;
      continue;
    }
    const line = recordLine(item);
    piece.push(line);
    size += line.length;
    if (size >= PIECE_BYTES) {
      yield Buffer.from(piece.join(''));
      piece = [];
      size = 0;
    }
  }
  if (piece.length > 0) yield Buffer.from(piece.join(''));
}

/** One record as an NDJSON line (docs/control-api.md, Import): bytes go as base64. */
export function recordLine(r: ImportRecord): string {
  const value =
    r.value === null ? { value: null } : typeof r.value === 'string' ? { value: r.value } : { valueBase64: Buffer.from(r.value).toString('base64') };
  return JSON.stringify({ key: r.key, ...value, ...(r.ttl === undefined ? {} : { ttl: r.ttl }) }) + '\n';
}
