import { describe, expect, it } from 'vitest';
import { countSetting } from '../src/config/settings.js';
import { DEFAULT_QUEUE_POOL_SIZE } from '../src/queue/job-queue.js';
import { DEFAULT_WORKER_CONCURRENCY } from '../src/queue/worker.js';
import { defaultLockPoolSize } from '../src/service.js';
import { DEFAULT_DATABASE_POOL_SIZE } from '../src/store/index.js';

/**
 * The connection budget docs/deploy.md adds up: 2 API nodes and 3 workers at the default
 * --concurrency fit PostgreSQL's default max_connections (100) with headroom. Before the caps the
 * same cluster needed 138 and tracks failed with "too many clients already".
 */

describe('connection budget', () => {
  it('2 API nodes and 3 workers at the default concurrency use at most 80 of PostgreSQL\'s 100 connections', () => {
    const api = DEFAULT_DATABASE_POOL_SIZE + DEFAULT_QUEUE_POOL_SIZE + defaultLockPoolSize({ api: true, worker: false }, DEFAULT_WORKER_CONCURRENCY);
    const worker = DEFAULT_DATABASE_POOL_SIZE + DEFAULT_QUEUE_POOL_SIZE + defaultLockPoolSize({ api: false, worker: true }, DEFAULT_WORKER_CONCURRENCY);
    expect({ api, worker }).toEqual({ api: 12, worker: 16 });
    expect(2 * api + 3 * worker).toBeLessThanOrEqual(80);
    // A worker never needs more lock connections than jobs it runs.
    expect(defaultLockPoolSize({ api: false, worker: true }, 2)).toBe(2);
    expect(defaultLockPoolSize({ api: true, worker: true }, 16)).toBe(12);
  });

  it('pool size settings take a whole number from 1 to 1000 and name the variable otherwise', () => {
    expect(countSetting({ REFUNDHUB_DATABASE_POOL_SIZE: ' 7 ' }, 'REFUNDHUB_DATABASE_POOL_SIZE')).toBe(7);
    expect(countSetting({}, 'REFUNDHUB_DATABASE_POOL_SIZE')).toBeUndefined();
    for (const bad of ['0', '-1', '2.5', 'ten', '1001']) {
      expect(() => countSetting({ REFUNDHUB_LOCK_POOL_SIZE: bad }, 'REFUNDHUB_LOCK_POOL_SIZE')).toThrow(/REFUNDHUB_LOCK_POOL_SIZE must be a whole number from 1 to 1000/);
    }
  });
});
