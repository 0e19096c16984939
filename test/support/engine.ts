import { createRefundClient, type RefundClient } from '../../src/client.js';
import { ManualClock } from '../../src/clock.js';
import type { LoadedConfig } from '../../src/config/index.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { createScheduler, type SchedulerOptions } from '../../src/poller/schedule.js';
import { createStore, type Store } from '../../src/store/index.js';
import { KeyedLock } from '../../src/sync/lock.js';
import type { SyncDeps } from '../../src/sync/sync-refund.js';
import { tempDatabaseUrl } from './db.js';

export interface TestEngine {
  store: Store;
  client: RefundClient;
  clock: ManualClock;
  metrics: Metrics;
  deps: SyncDeps;
  url: string;
  close(): Promise<void>;
}

/**
 * The engine's real pieces on a temp SQLite FILE: store (migrated), client against `config` (the
 * emulator's), a ManualClock for schedules (the HTTP layer keeps real time so tokens stay valid).
 * Transport retries are off so injected faults surface at once.
 */
export async function createTestEngine(config: LoadedConfig, options: { scheduler?: SchedulerOptions; url?: string } = {}): Promise<TestEngine> {
  const url = options.url ?? tempDatabaseUrl();
  const store = await createStore(url);
  const client = createRefundClient({ config, logger: silentLogger, transport: { maxAttempts: 1, timeoutMs: 5000 } });
  const clock = new ManualClock(Date.now());
  const metrics = createMetrics();
  const deps: SyncDeps = {
    store,
    client,
    clock,
    logger: silentLogger,
    metrics,
    schedule: createScheduler({ jitter: 0, config, ...options.scheduler }),
    locks: new KeyedLock(),
  };
  return {
    store,
    client,
    clock,
    metrics,
    deps,
    url,
    async close() {
      await client.close();
      await store.close();
    },
  };
}
