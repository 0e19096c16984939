import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/refundhub', import.meta.url));
const execFileAsync = promisify(execFile);

/**
 * Bounds for tests that start `bin/refundhub`. Each run is a fresh Node process loading dist/:
 * 2-8 s apiece on a 2-core machine with vitest's two workers and three busy loops beside it
 * (measured; ~0.5 s when idle), and a test may make twenty (75 s there). A run is killed after
 * CLI_RUN_TIMEOUT_MS; a file whose tests spawn the CLI sets CLI_TEST_TIMEOUT_MS as its test and
 * hook timeout (`vi.setConfig` at its top), so a slow machine is not mistaken for a hang.
 */
export const CLI_RUN_TIMEOUT_MS = 60_000;
export const CLI_TEST_TIMEOUT_MS = 180_000;

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * `bin/refundhub` in a child process (the built dist/: `npm run build` first), with only PATH, HOME
 * and `env` in its environment, so nothing from the developer's shell leaks in. Never throws on a
 * non-zero exit: the code is in the result.
 */
export async function runCli(args: string[], env: Record<string, string> = {}, options: { timeoutMs?: number } = {}): Promise<CliRun> {
  const merged = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env };
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { env: merged, timeout: options.timeoutMs ?? CLI_RUN_TIMEOUT_MS });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
