// Typed errors. Every error a user or a peer can cause has its own class with a stable `code`,
// so the CLI (and later the control API) can map it to an exit code and a clear message.

export class ReplikvError extends Error {
  readonly code: string = 'REPLIKV_ERROR';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A key that is not a well-formed UTF-8 string of 1 to 1024 bytes. */
export class InvalidKeyError extends ReplikvError {
  override readonly code = 'INVALID_KEY';
}

/** A value that is not bytes, or is larger than the configured limit. */
export class InvalidValueError extends ReplikvError {
  override readonly code = 'INVALID_VALUE';
}

/** A causal-context token that is malformed, truncated or fails its checksum. */
export class InvalidTokenError extends ReplikvError {
  override readonly code = 'INVALID_TOKEN';
}

/** Bytes that do not decode as the structure they claim to be (from disk, a peer or a file). */
export class DecodeError extends ReplikvError {
  override readonly code = 'DECODE_ERROR';
}

/** A configuration file or flag that does not fit the schema. */
export class ConfigError extends ReplikvError {
  override readonly code = 'CONFIG_ERROR';
}

/** The store cannot be used: closed, damaged, or a write failed to commit. */
export class StoreError extends ReplikvError {
  override readonly code = 'STORE_ERROR';
}

/**
 * Something the daemon needs is held or unusable: its data directory (locked by another daemon, or
 * not writable) or a listen address already in use.
 */
export class ResourceError extends ReplikvError {
  override readonly code: string = 'RESOURCE_UNAVAILABLE';
}

/** A write was stored here but fewer replicas than asked stored it in time (sync/write-concern.ts). */
export class WriteConcernError extends ReplikvError {
  override readonly code = 'WRITE_CONCERN';
  constructor(
    readonly acked: number,
    readonly wanted: number,
    timeoutMs: number,
  ) {
    super(`write concern not met: ${acked} of ${wanted} replicas stored the write within ${timeoutMs} ms (the write is not undone)`);
  }
}
