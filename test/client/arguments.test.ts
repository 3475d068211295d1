// The library's own checks of what a JavaScript caller passes: a mistake is a TypeError before any
// request, not a failed request blamed on the daemon (the socket here has no daemon behind it).
import { describe, expect, it } from 'vitest';
import { connect } from '../../src/index.js';

describe('library arguments', () => {
  it('put refuses a value that is not text, bytes or a stream, before any request', async () => {
    const db = connect({ socket: '/nonexistent/replikv/control.sock' });
    try {
      for (const [value, what] of [[42, 'number'], [{ a: 1 }, 'object'], [null, 'null'], [[1, 2], 'an array'], [undefined, 'undefined']] as const) {
        await expect(db.put('k', value as never)).rejects.toThrow(new TypeError(`a value is text, bytes (Uint8Array, Buffer) or a stream of bytes, not ${what}`));
      }
      // a good value does reach for the daemon (and finds none here)
      await expect(db.put('k', 'v')).rejects.toMatchObject({ code: 'DAEMON_UNAVAILABLE' });
    } finally {
      db.close();
    }
  });
});
