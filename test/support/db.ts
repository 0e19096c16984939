import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs: string[] = [];

/**
 * A fresh SQLite FILE database URL in its own temp directory (`sqlite:/tmp/refundhub-XXXX/x.db`).
 * Call `cleanupTempDatabases()` (e.g. in afterAll) once the stores are closed.
 */
export function tempDatabaseUrl(name = 'x'): string {
  const dir = mkdtempSync(join(tmpdir(), 'refundhub-'));
  dirs.push(dir);
  return `sqlite:${join(dir, `${name}.db`)}`;
}

/** Removes every directory `tempDatabaseUrl()` made (WAL and SHM files included). */
export function cleanupTempDatabases(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
