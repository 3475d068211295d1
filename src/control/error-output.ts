// How the CLI reports an error: `replikv: MESSAGE` on stderr, or with --json exactly one line of
// JSON, {"error": MESSAGE, "code": CODE}, so a script reads errors the way it reads answers.

/** Whether --json was given (before a `--`, after which arguments are operands). */
export function wantsJson(argv: readonly string[]): boolean {
  for (const a of argv) {
    if (a === '--') return false;
    if (a === '--json') return true;
  }
  return false;
}

/** The stderr line for an error with a message and a stable code. */
export function errorLine(message: string, code: string, json: boolean): string {
  return json ? `${JSON.stringify({ error: message, code })}\n` : `replikv: ${message}\n`;
}
