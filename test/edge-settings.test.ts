import type { FastifyInstance } from 'fastify';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, listen } from '../src/server/app.js';
import { API_SCOPES } from '../src/server/auth.js';
import { DEFAULT_NOTIFICATION_RATE_LIMIT, notificationRateLimitFromEnv, trustProxyFromEnv } from '../src/server/edge-settings.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, tempDir, type RunningHub } from './support/hub.js';
import { runCli } from './support/run-cli.js';

/**
 * The API's edge settings from the environment: REFUNDHUB_NOTIFICATION_RATE_LIMIT (the
 * unauthenticated notification routes' per-client budget) and REFUNDHUB_TRUST_PROXY (whose
 * X-Forwarded-* headers name the client and the scheme), parsed strictly and applied by a real
 * server on 127.0.0.1.
 */

const RATE = 'REFUNDHUB_NOTIFICATION_RATE_LIMIT';
const PROXY = 'REFUNDHUB_TRUST_PROXY';

describe('parsing', () => {
  it('REFUNDHUB_NOTIFICATION_RATE_LIMIT: unset, off, N and N/BURST', () => {
    expect(notificationRateLimitFromEnv({})).toEqual(DEFAULT_NOTIFICATION_RATE_LIMIT);
    expect(notificationRateLimitFromEnv({ [RATE]: ' ' })).toEqual(DEFAULT_NOTIFICATION_RATE_LIMIT);
    expect(notificationRateLimitFromEnv({ [RATE]: 'OFF' })).toBe(false);
    expect(notificationRateLimitFromEnv({ [RATE]: '50' })).toEqual({ perSecond: 50, burst: 500 });
    expect(notificationRateLimitFromEnv({ [RATE]: '5/7' })).toEqual({ perSecond: 5, burst: 7 });
  });

  it.each(['0', '-1', '1.5', 'fast', '10/', '/10', '10/0', '200000', '1e3', '10 / 20'])('REFUNDHUB_NOTIFICATION_RATE_LIMIT=%j is not_configured, naming the variable', (raw) => {
    expect(() => notificationRateLimitFromEnv({ [RATE]: raw })).toThrow(expect.objectContaining({ code: 'not_configured', message: expect.stringContaining(RATE) }));
  });

  it('REFUNDHUB_TRUST_PROXY: addresses and CIDRs, nothing that trusts everyone', () => {
    expect(trustProxyFromEnv({})).toBeUndefined();
    expect(trustProxyFromEnv({ [PROXY]: '10.0.0.0/8, 127.0.0.1,::1,fd00::/8' })).toBe('10.0.0.0/8,127.0.0.1,::1,fd00::/8');
    for (const raw of ['true', '*', '1', '2', '10.0.0.0/33', '300.1.1.1', 'proxy.internal', '127.0.0.1,', ':::/200', '1:2', ':::::', '0.0.0.0/0', '::/0', '10.0.0.0/8/8', '10.0.0.0/x']) {
      expect(() => trustProxyFromEnv({ [PROXY]: raw }), raw).toThrow(expect.objectContaining({ code: 'not_configured', message: expect.stringContaining(PROXY) }));
    }
  });
});

describe('refundhub serve refuses a bad edge setting before it listens', () => {
  it.each([
    [RATE, '20 per second'],
    [PROXY, 'yes'],
    [PROXY, '1:2'],
  ])('%s=%j: exit 2, one line naming the variable', async (name, value) => {
    const dir = tempDir('refundhub-edge-cli-');
    try {
      const r = await runCli(['serve', '--port', '0'], { REFUNDHUB_DATABASE_URL: `sqlite:${join(dir.dir, 'hub.db')}`, [name]: value });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(name);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    } finally {
      dir.cleanup();
    }
  });
});

describe('applied by a server on 127.0.0.1', () => {
  let tmp: ReturnType<typeof tempDir>;
  let em: RunningEmulator;
  let h: RunningHub;
  let key: string;
  const apps: FastifyInstance[] = [];

  beforeAll(async () => {
    tmp = tempDir('refundhub-edge-');
    em = await startEmulator();
    h = await startHub(em, join(tmp.dir, 'hub.db'));
    em.emulator.notifyUrl = undefined;
    key = await h.key(API_SCOPES);
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await h?.close();
    await em?.close();
    tmp?.cleanup();
  });

  async function serve(env: Record<string, string>): Promise<string> {
    const limit = notificationRateLimitFromEnv(env);
    const trustProxy = trustProxyFromEnv(env);
    // The bucket's clock stands still: no refill between requests however slow the machine.
    const app = buildApp(h.hub, { logLevel: 'silent', notificationRateLimit: limit, rateLimitNow: () => 0, ...(trustProxy ? { trustProxy } : {}) });
    apps.push(app);
    return listen(app, 0, '127.0.0.1');
  }
  // An unsigned provider's body that does not parse: 400 when let through, 429 when over the budget.
  const notify = (url: string, forwardedFor?: string) =>
    call(`${url}/v1/notifications/stan`, { method: 'POST', headers: { 'content-type': 'application/json', ...(forwardedFor ? { 'x-forwarded-for': forwardedFor } : {}) }, body: 'not json' });

  it('a trusted proxy: each forwarded client has its own budget', async () => {
    const url = await serve({ [RATE]: '1/2', [PROXY]: '127.0.0.1' });
    expect((await notify(url, '203.0.113.7')).status).toBe(400);
    expect((await notify(url, '203.0.113.7')).status).toBe(400);
    const over = await notify(url, '203.0.113.7');
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('too_many_requests');
    expect((await notify(url, '198.51.100.9')).status).toBe(400);
    // Counted per provider, for the operator.
    const metrics = await call(`${url}/metrics`);
    expect(metrics.text).toMatch(/^refundhub_notifications_total\{provider="stan",outcome="rate_limited"\} [1-9]/m);
  });

  it('no trusted proxy: X-Forwarded-For is ignored, so a client cannot buy itself a new budget', async () => {
    const url = await serve({ [RATE]: '1/2' });
    expect((await notify(url, '203.0.113.7')).status).toBe(400);
    expect((await notify(url, '203.0.113.8')).status).toBe(400);
    expect((await notify(url, '203.0.113.9')).status).toBe(429);
  });

  it('off: no budget at all', async () => {
    const url = await serve({ [RATE]: 'off' });
    for (let i = 0; i < 30; i++) expect((await notify(url)).status).toBe(400);
  });

  it('the dashboard cookie is Secure when a trusted proxy says the browser used HTTPS, and only then', async () => {
    const trusted = await serve({ [PROXY]: '127.0.0.1' });
    const untrusted = await serve({});
    const signIn = (url: string) => call(`${url}/v1/sessions`, { method: 'POST', headers: { 'x-forwarded-proto': 'https' }, json: { apiKey: key } });
    const a = await signIn(trusted);
    const b = await signIn(untrusted);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(String(a.headers.get('set-cookie'))).toMatch(/; Secure/);
    expect(String(b.headers.get('set-cookie'))).not.toMatch(/Secure/);
  });
});
