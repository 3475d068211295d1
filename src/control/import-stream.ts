// Streamed NDJSON import: lines are parsed as the bytes arrive and written in batches, so a body
// of any size needs memory for two batches and one line, never the whole body. A bad line stops
// the import; every line before it is written (so a fixed file can be resumed from that line).

import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { checkValue, keyToBytes } from '../core/validate.js';
import { ReplikvError } from '../errors.js';
import type { WriteOp } from '../store/keyspace.js';
import { expireAtOf, ttlExpected } from './ttl.js';
import { fromJsonValue } from './wire.js';

export const IMPORT_BATCH = 1000;
const MAX_IN_FLIGHT = 2;
const NEWLINE = 0x0a;
const FIELDS = new Set(['key', 'value', 'valueBase64', 'ttl']);

/** A line of the import body that is not a valid record (the client's mistake: 400). */
export class ImportLineError extends ReplikvError {
  override readonly code = 'BAD_IMPORT_LINE';
}

/** A batch failed to commit (the node's problem: 500). */
export class ImportWriteError extends ReplikvError {
  override readonly code = 'IMPORT_WRITE_FAILED';
}

/** Longest line accepted: a base64 value of the largest size, a long key, and room for JSON. */
export const maxLineBytes = (maxValueBytes: number) => maxValueBytes * 2 + 64 * 1024;

/** Reads NDJSON records from `body` and writes them; resolves with the number of keys written. */
export async function importNdjson(body: Readable, write: (ops: WriteOp[]) => Promise<unknown>, maxValueBytes: number): Promise<number> {
  const lineLimit = maxLineBytes(maxValueBytes);
  let imported = 0;
  let failure: unknown;
  const inFlight = new Set<Promise<void>>();
  let batch: WriteOp[] = [];

  const flush = async () => {
    if (batch.length > 0) {
      const ops = batch;
      batch = [];
      const done: Promise<void> = write(ops).then(
        () => void (imported += ops.length),
        (err: unknown) => void (failure ??= err),
      );
      inFlight.add(done);
      void done.finally(() => inFlight.delete(done));
    }
    while (inFlight.size >= MAX_IN_FLIGHT) await Promise.race(inFlight);
  };
  /** Waits for every batch; a failed one is reported with what did commit. */
  const settle = async () => {
    await Promise.all(inFlight);
    if (failure !== undefined) {
      throw new ImportWriteError(`import stopped after ${imported} keys: ${(failure as Error).message}`, { cause: failure });
    }
  };

  let line = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const take = async (piece: Buffer) => {
    const text = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
    pending = [];
    pendingBytes = 0;
    line++;
    const op = parseLine(text, maxValueBytes);
    if (typeof op === 'string') {
      await flush();
      await settle();
      throw new ImportLineError(`line ${line}: ${op}; ${imported} keys imported before it (they stay written)`);
    }
    if (op !== null) batch.push(op);
    if (batch.length >= IMPORT_BATCH || failure !== undefined) await flush();
    if (failure !== undefined) await settle();
  };

  try {
    // destroyOnReturn: false keeps the connection open for the error reply when we stop early.
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      let start = 0;
      for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
        await take(chunk.subarray(start, nl));
        start = nl + 1;
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > lineLimit) {
          await flush();
          await settle();
          throw new ImportLineError(`line ${line + 1}: longer than ${lineLimit} bytes; ${imported} keys imported before it (they stay written)`);
        }
      }
    }
    if (pendingBytes > 0) await take(Buffer.alloc(0)); // a last line without a newline
    await flush();
    await settle();
    return imported;
  } finally {
    // On any early exit, let in-flight batches finish so none rejects unobserved.
    await Promise.allSettled(inFlight);
  }
}

/** One line: a put or a delete, null for a blank line, or the reason it is not a valid record. */
function parseLine(bytes: Buffer, maxValueBytes: number): WriteOp | string | null {
  if (!isUtf8(bytes)) return 'not valid UTF-8';
  const text = bytes.toString('utf8').trim();
  if (text === '') return null;
  let rec: unknown;
  try {
    rec = JSON.parse(text);
  } catch (err) {
    return `not valid JSON (${(err as Error).message})`;
  }
  if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) return 'expected a JSON object {"key": ..., "value": ...}';
  const fields = rec as Record<string, unknown>;
  const unknown = Object.keys(fields).find((f) => !FIELDS.has(f));
  if (unknown !== undefined) return `unknown field "${unknown}" (expected "key" and "value" or "valueBase64", and optionally "ttl")`;
  if (typeof fields.key !== 'string') return 'expected a string "key"';
  // "value": null deletes the key (the shape get --json shows for a deleted key).
  const value = fields.value === null && fields.valueBase64 === undefined ? null : fromJsonValue(fields);
  if (typeof value === 'string') return value;
  try {
    keyToBytes(fields.key);
    if (value !== null) checkValue(value, maxValueBytes);
  } catch (err) {
    return (err as Error).message;
  }
  if (value === null) {
    if (fields.ttl !== undefined) return 'a delete ("value": null) takes no "ttl"';
    return { type: 'del', key: fields.key };
  }
  if (fields.ttl === undefined) return { type: 'put', key: fields.key, value };
  // each line's expiry on the daemon's clock as the line is read
  const now = Date.now();
  const expireAt = expireAtOf(fields.ttl, now);
  if (expireAt === undefined) return `"ttl" must be ${ttlExpected(now)}, got ${JSON.stringify(fields.ttl)}`;
  return { type: 'put', key: fields.key, value, expireAt };
}
