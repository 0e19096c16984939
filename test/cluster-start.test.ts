import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT, clusterEnv, killAll, migrate, startApiNode, startWorker, writeClusterConfig } from './support/cluster.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { tempDir } from './support/hub.js';
import { createTestDatabase, postgresAvailable, type TestDatabase } from './support/postgres.js';

/**
 * Several nodes starting at once on a freshly migrated database must all come up (issue 7). Each
 * creates the job queues on start; pg-boss 10's create_queue deadlocked between them and all but
 * one exited with "unexpected error: deadlock detected" until the queue seam retried it.
 */

let db: TestDatabase | undefined;
let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;

describe.runIf(postgresAvailable)('a cluster starting at once', () => {
  beforeAll(async () => {
    if (!BUILT) throw new Error('the cluster tests run bin/refundhub: `npm run build` first');
    db = await createTestDatabase('refundhub_start');
    tmp = tempDir('refundhub-start-');
    em = await startEmulator();
  });

  afterAll(async () => {
    await killAll();
    await em?.close();
    await db?.drop();
    tmp?.cleanup();
  });

  it('two API nodes and three workers started together all come up and stop with exit 0', async () => {
    const env = clusterEnv(db!.url, writeClusterConfig(tmp.dir, em.settings));
    await migrate(env);
    const nodes = await Promise.all([
      startApiNode('api-a', env),
      startApiNode('api-b', env),
      ...[1, 2, 3].map((i) => startWorker(`worker-${i}`, env, { concurrency: 2 })),
    ]);
    const exits = await Promise.all(nodes.map((n) => n.stop('SIGTERM')));
    expect(exits.map((e) => [e.code, e.signal])).toEqual(nodes.map(() => [0, null]));
  }, 240_000); // five starts at once (each may take up to startApiNode's 120 s bound) and five stops
});
