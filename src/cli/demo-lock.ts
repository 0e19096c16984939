import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { RefundHubError } from '../errors.js';

/**
 * One demo per directory: the demo recreates its database file and writes its env file in the
 * current directory, so a second demo there (on another port) would delete the first one's
 * database under it. The lock is a pid file; one whose process is gone is stale and taken over.
 */
export interface DirectoryLock {
  /** Removes the pid file, if it is still ours. */
  release(): void;
}

/** True while process `pid` exists (EPERM: it exists but belongs to someone else). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readPid(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * Takes `file` as this process's lock, or throws `invalid_input` (exit 2) naming the holder.
 * The pid is written to a private file first and then hard-linked into place: the link is atomic
 * and fails when the lock exists, so no reader ever sees a half-written pid file.
 */
export function lockDirectory(file: string, pid = process.pid): DirectoryLock {
  const mine = `${file}.${pid}`;
  try {
    writeFileSync(mine, `${pid}\n`, { mode: 0o644 });
  } catch (e) {
    throw new RefundHubError('not_configured', `cannot write the demo lock ${file} in this directory (${(e as NodeJS.ErrnoException).code ?? 'error'}); run from a directory you can write to`);
  }
  try {
    // A few rounds: each one either takes the lock, refuses, or clears a stale one and retries.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        linkSync(mine, file);
        return {
          release: () => {
            if (readPid(file) === pid) rmSync(file, { force: true });
          },
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = readPid(file);
      if (holder !== null && holder !== pid && isAlive(holder)) {
        throw new RefundHubError('invalid_input', `a demo is already running in this directory (pid ${holder}); stop it or run from another directory`);
      }
      // Stale (its process is gone) or unreadable: clear it, unless another starter already replaced it.
      if (readPid(file) === holder) {
        try {
          unlinkSync(file);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        }
      }
    }
    throw new RefundHubError('invalid_input', `could not take the demo lock ${file}: another demo is starting in this directory`);
  } finally {
    rmSync(mine, { force: true });
  }
}
