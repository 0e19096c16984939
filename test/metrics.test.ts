import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { GAUGE_MAX_AGE_MS } from '../src/metrics.js';
import { startServer, type RunningServer } from '../src/cli/commands/serve.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, tempDir, type RunningHub } from './support/hub.js';
import { pollUntil } from './support/wait.js';
import { silentLogger } from '../src/logger.js';

/**
 * `/metrics` stays cheap (the full counts run at most once per GAUGE_MAX_AGE_MS, off the scrape)
 * and can be moved off the public API port.
 */

let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
let h: RunningHub;
let writer: string;
const clock = new ManualClock(Date.now());

beforeAll(async () => {
  tmp = tempDir();
  em = await startEmulator();
  h = await startHub(em, join(tmp.dir, 'metrics.db'), { clock });
  em.emulator.notifyUrl = undefined;
  writer = await h.key(['refunds:write']);
});

afterAll(async () => {
  await h?.close();
  await em?.close();
  tmp?.cleanup();
});

const pendingGauge = async (url: string): Promise<number> => {
  const r = await call(`${url}/metrics`);
  expect(r.status).toBe(200);
  const m = /^refundhub_refunds\{status="pending"\} (\d+)$/m.exec(r.text);
  return m ? Number(m[1]) : 0;
};

async function track(): Promise<void> {
  const r = em.emulator.createRefund('ziina', {});
  expect((await call(`${h.url}/v1/refunds`, { key: writer, json: { provider: 'ziina', id: String(r.id) } })).status).toBe(201);
}

describe('/metrics', () => {
  it('scrapes within the window reuse the counted gauges; an older result is refreshed behind the next scrape', async () => {
    await track();
    expect(await pendingGauge(h.url)).toBe(1);
    await track();
    // Counted at most once per window, whatever the scrape rate.
    for (let i = 0; i < 5; i++) expect(await pendingGauge(h.url)).toBe(1);
    clock.advance(GAUGE_MAX_AGE_MS - 1);
    expect(await pendingGauge(h.url)).toBe(1);
    clock.advance(1);
    await pollUntil(async () => (await pendingGauge(h.url)) === 2, { timeoutMs: 5_000, what: 'the gauge refreshed after the window' });
  });

  it('serve --metrics-port: metrics on their own port, and not on the API port', async () => {
    let server: RunningServer | undefined;
    try {
      server = await startServer({
        port: 0,
        host: '127.0.0.1',
        metricsPort: 0,
        logLevel: 'silent',
        hubOptions: { databaseUrl: `sqlite:${join(tmp.dir, 'serve.db')}`, config: em.config(), env: {}, logger: silentLogger },
      });
      expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(server.metricsUrl).not.toBe(server.url);
      const scraped = await call(`${server.metricsUrl}/metrics`);
      expect(scraped.status).toBe(200);
      expect(scraped.text).toContain('refundhub_queue_depth{queue="due_refunds"}');
      const onApi = await call(`${server.url}/metrics`);
      expect(onApi.status).toBe(404);
      expect(onApi.body.error.code).toBe('route_not_found');
      const other = await call(`${server.metricsUrl}/v1/refunds`);
      expect(other.status).toBe(404);
      expect((await call(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server?.close();
    }
  });
});
