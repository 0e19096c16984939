import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tempDir } from './support/hub.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * REFUNDHUB_DATABASE_URL naming something that is not a usable SQLite file is the user's
 * configuration, not our bug: exit 2 with one line naming the path and why, never exit 1
 * "unexpected error", and the file is left as it was.
 */

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

async function expectConfigError(path: string, reason: RegExp): Promise<void> {
  const run = await runCli(['list'], { REFUNDHUB_DATABASE_URL: `sqlite:${path}` });
  expect(run.code, run.stderr).toBe(2);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^refundhub: error: cannot open SQLite database /);
  expect(lines[0]).toContain(path);
  expect(lines[0]).toMatch(reason);
  expect(lines[0]).toMatch(/\[not_configured\]$/);
  expect(run.stdout).toBe('');
}

describe('REFUNDHUB_DATABASE_URL=sqlite: a path that is not a usable SQLite file', () => {
  it('a text file: exit 2, "not a SQLite database", the file untouched', async () => {
    const file = join(tmp.dir, 'notes.txt');
    writeFileSync(file, 'these are my notes, not a database\n');
    await expectConfigError(file, /not a SQLite database/);
    expect(readFileSync(file, 'utf8')).toBe('these are my notes, not a database\n');
  });

  it('a directory: exit 2, "is a directory"', async () => {
    const dir = join(tmp.dir, 'a-directory.db');
    mkdirSync(dir);
    await expectConfigError(dir, /is a directory/);
  });

  it('a file in a directory that does not exist: exit 2, naming the directory', async () => {
    await expectConfigError(join(tmp.dir, 'missing', 'refundhub.db'), /directory .*missing does not exist/);
  });

  it('a path under a file: exit 2', async () => {
    const file = join(tmp.dir, 'plain-file');
    writeFileSync(file, 'x');
    await expectConfigError(join(file, 'refundhub.db'), /is a file, not a directory/);
  });

  // root reads any file whatever its mode; /proc refuses to create files for everyone.
  it('a path that cannot be opened (unreadable file, or a place where no file can be created): exit 2', async () => {
    if (process.getuid?.() !== 0) {
      const file = join(tmp.dir, 'unreadable.db');
      writeFileSync(file, '');
      chmodSync(file, 0o000);
      await expectConfigError(file, /permission denied|cannot open the file/);
    }
    await expectConfigError('/proc/refundhub-test.db', /cannot open the file/);
  });
});
