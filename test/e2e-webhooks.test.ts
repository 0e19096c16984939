import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isFinalStatus, PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { getProvider } from '../src/providers/registry.js';
import { getHistory } from '../src/store/refunds.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, startReceiver, tempDir, type ReceivedWebhook, type RunningHub, type WebhookReceiver } from './support/hub.js';
import { pollUntil } from './support/wait.js';

/**
 * End to end, for each provider: an emulator lifecycle step changes the refund -> the emulator
 * posts the provider's native signed notification to our API -> we re-fetch through the spine ->
 * history -> a signed webhook reaches a merchant receiver that verifies it with verifyWebhook.
 * Real HTTP everywhere, a real SQLite file, the poller and deliverer loops running.
 */

let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
let h: RunningHub;
let rx: WebhookReceiver;
let key: string;

beforeAll(async () => {
  tmp = tempDir();
  em = await startEmulator();
  h = await startHub(em, join(tmp.dir, 'e2e.db'), { start: true, deliverer: { intervalMs: 20 }, poller: { intervalMs: 50 } });
  rx = await startReceiver();
  key = await h.key(['refunds:read', 'refunds:write', 'webhooks:write']);
  const ep = await call(`${h.url}/v1/webhook-endpoints`, { key, json: { url: rx.url } });
  expect(ep.status).toBe(201);
  rx.secret = ep.body.secret;
});

afterAll(async () => {
  await em?.emulator.drainNotifications();
  await h?.close();
  await em?.close();
  await rx?.close();
  tmp?.cleanup();
});

const SCALE = 1 / 100; // demo lifecycles run over ~30 s; here over ~300 ms

/** Everything the receiver got for one refund, in sequence order. */
const eventsFor = (provider: string, id: string): ReceivedWebhook[] =>
  rx.received.filter((r) => r.event.data.refund.provider === provider && r.event.data.refund.id === id).sort((a, b) => a.event.sequence - b.event.sequence);

async function expectDeliveredHistory(provider: ProviderId, id: string, firstSource: string) {
  const refund = await pollUntil(async () => {
    const r = await call(`${h.url}/v1/refunds/${provider}/${id}`, { key });
    return r.status === 200 && isFinalStatus(r.body.status) ? r.body : undefined;
  }, { timeoutMs: 15_000, what: `${provider} ${id} final` });
  const history = (await call(`${h.url}/v1/refunds/${provider}/${id}/events`, { key })).body.data as Array<{ kind: string; from: string | null; to: string; source: string }>;
  expect(history[0]!.source).toBe(firstSource);
  expect(history.at(-1)!.to).toBe(refund.status);
  expect(history.at(-1)!.source).toBe('notification');
  // Every change in the history (a new provider word for the same status included) produced
  // exactly one event, delivered and verified.
  const changes = history.filter((e) => e.kind !== 'anomaly');
  const received = await pollUntil(() => {
    const got = eventsFor(provider, id);
    return got.length >= changes.length ? got : undefined;
  }, { timeoutMs: 15_000, what: `${provider} webhooks` });
  expect(received.every((r) => r.valid)).toBe(true);
  expect(received.map((r) => r.event.sequence)).toEqual(changes.map((_, i) => i + 1));
  expect(new Set(received.map((r) => r.event.id)).size).toBe(received.length);
  expect(received.every((r) => r.eventId === r.event.id)).toBe(true);
  expect(received.map((r) => r.event.data.refund.status)).toEqual(changes.map((c) => c.to));
  expect(received.map((r) => r.event.data.previousStatus)).toEqual(changes.map((c) => c.from));
  const last = received.at(-1)!.event;
  expect(last.type).toBe(`refund.${refund.status}`);
  return { refund, history, received };
}

describe.each(PROVIDER_IDS.map((p) => [p]))('%s', (provider) => {
  const module = getProvider(provider);
  const demos = module.emulator.demoRefunds();

  it('tracked refund: lifecycle -> signed notification -> re-fetch -> history -> verified webhook', async () => {
    const demo = demos[0]!;
    const created = em.emulator.createRefund(provider, demo.refund, []);
    const id = module.emulator.idOf(created);
    const tracked = await call(`${h.url}/v1/refunds`, { key, json: { provider, id } });
    expect(tracked.status).toBe(201);
    expect(isFinalStatus(tracked.body.status)).toBe(false);
    // Now run the provider's lifecycle (scaled down); each step makes the emulator notify us.
    for (const step of demo.lifecycle) {
      await new Promise((r) => setTimeout(r, Math.max(20, step.afterMs * SCALE)));
      em.emulator.setStatus(provider, id, step.status);
    }
    const { refund } = await expectDeliveredHistory(provider, id, 'api');
    expect(refund.providerStatus).toBe(demo.lifecycle.at(-1)!.status);
    // The notification was recorded and processed (signature verified: it was accepted).
    const notes = await h.hub.db.selectFrom('notifications').selectAll().where('provider', '=', provider).where('refund_id', '=', id).execute();
    expect(notes.length).toBeGreaterThanOrEqual(1);
    await pollUntil(async () => {
      const rows = await h.hub.db.selectFrom('notifications').select('outcome').where('provider', '=', provider).where('refund_id', '=', id).execute();
      return rows.every((r) => r.outcome !== 'pending');
    }, { what: 'notifications processed' });
  });

  it('untracked refund: its first notification starts tracking it', async () => {
    const demo = demos[1] ?? demos[0]!;
    const created = em.emulator.createRefund(provider, demos[1] ? demo.refund : {}, demo.lifecycle.map((s) => ({ status: s.status, afterMs: Math.max(20, s.afterMs * SCALE) })));
    const id = module.emulator.idOf(created);
    const { history } = await expectDeliveredHistory(provider, id, 'notification');
    expect(history[0]!.kind).toBe('tracked');
    const stored = await getHistory(h.hub.db, { provider, account: 'default', id });
    expect(stored.length).toBe(history.length);
  });
});

describe('signatures', () => {
  it('the receiver rejects a webhook signed with another secret', async () => {
    const { signWebhook, verifyWebhook } = await import('../src/signing/webhook.js');
    const any = rx.received[0]!;
    expect(verifyWebhook(any.raw, any.signature, rx.secret)).toBe(true);
    expect(verifyWebhook(any.raw, any.signature, 'whsec_other')).toBe(false);
    expect(verifyWebhook(`${any.raw} `, any.signature, rx.secret)).toBe(false);
    const forged = signWebhook(any.raw, 'whsec_other', Math.floor(Date.now() / 1000));
    expect(verifyWebhook(any.raw, forged, rx.secret)).toBe(false);
  });
});
