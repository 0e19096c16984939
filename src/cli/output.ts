import { isRefundHubError, RefundHubError } from '../errors.js';

/**
 * CLI output conventions: results on stdout, one clear line per error on stderr, exit codes
 * from src/errors.ts (0 ok, 2 invalid input or configuration, 3 not found, 4 authentication
 * rejected, 5 provider error). Never a stack trace, never a secret.
 */

export class CliExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

/**
 * A reader that goes away (`refundhub list | head -1`) is not an error: on EPIPE the CLI stops
 * writing and exits quietly with the exit code it had so far (0), the way Unix filters do, instead
 * of crashing with an unhandled 'error' event and a stack trace. Installed once, on first import.
 */
let stdoutClosed = false;
function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') {
    stdoutClosed = true;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  }
  // Anything else on stdout (disk full on a redirect...) is reported once, without a stack.
  process.stderr.write(`refundhub: cannot write output: ${err.message}\n`);
  process.exit(1);
}
process.stdout.on('error', onOutputError);
process.stderr.on('error', () => {
  // Nowhere left to report to.
});

function write(text: string): void {
  if (stdoutClosed) return;
  process.stdout.write(text);
}

export function printJson(value: unknown): void {
  write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(line = ''): void {
  write(`${line}\n`);
}

/** The exit code for any error: RefundHubError codes map through ERROR_CODES; anything else is 1. */
export function exitCodeFor(e: unknown): number {
  return isRefundHubError(e) ? e.exitCode : 1;
}

/** One line for stderr. Unexpected errors show their message only (no stack) unless REFUNDHUB_DEBUG is set. */
export function errorLine(e: unknown): string {
  if (e instanceof RefundHubError) return `refundhub: error: ${e.message} [${e.code}]`;
  const msg = e instanceof Error ? e.message : String(e);
  return `refundhub: unexpected error: ${msg}`;
}

/** Prints the error and ends the command with its exit code. */
export function fail(e: unknown): never {
  process.stderr.write(`${errorLine(e)}\n`);
  if (process.env.REFUNDHUB_DEBUG && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  throw new CliExit(exitCodeFor(e));
}

/** Runs a command body, turning any error into one stderr line and an exit code. */
export async function guard(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (e) {
    if (e instanceof CliExit) throw e;
    fail(e);
  }
}
