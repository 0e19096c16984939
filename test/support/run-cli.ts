import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BIN = fileURLToPath(new URL('../../bin/refundhub', import.meta.url));
const execFileAsync = promisify(execFile);

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
    const { stdout, stderr } = await execFileAsync(process.execPath, [BIN, ...args], { env: merged, timeout: options.timeoutMs ?? 30_000 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}
