import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../../src/clock.js';
import { silentLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { claimDeliveries, createDeliverer, DEFAULT_DELIVERY_SCHEDULE_MS, type Deliverer } from '../../src/notify/deliverer.js';
import { createEndpoint, listDeliveries, redeliverEvent, type CreatedWebhookEndpoint } from '../../src/notify/endpoints.js';
import { verifyWebhook } from '../../src/signing/webhook.js';
import type { Store } from '../../src/store/index.js';
import { pollUntil } from '../support/wait.js';
import { insertEvent, makeEvent, openTempStore, startReceiver, type ReceivedRequest } from './helpers.js';

let store: Store;
let cleanup: () => Promise<void>;
let clock: ManualClock;
let metrics: Metrics;
let receiver: Awaited<ReturnType<typeof startReceiver>>;
let endpoint: CreatedWebhookEndpoint;
const deliverers: Deliverer[] = [];

function deliverer(opts: Partial<Parameters<typeof createDeliverer>[0]> = {}): Deliverer {
  const d = createDeliverer({ store, clock, logger: silentLogger, metrics, jitter: 0, ...opts });
  deliverers.push(d);
  return d;
}

/** What a merchant's receiver does: verify the signature over the raw body with its secret. */
function verified(req: ReceivedRequest, secret = endpoint.secret): boolean {
  return verifyWebhook(req.body, req.headers['refundhub-signature'] as string | undefined, secret, { now: clock.now() });
}

const deliveryOf = async (eventId: string) =>
  store.db.selectFrom('deliveries').selectAll().where('event_id', '=', eventId).executeTakeFirstOrThrow();
const attemptsOf = async (deliveryId: string) =>
  store.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', deliveryId).orderBy('id').execute();
const outcomeCount = async (outcome: string) =>
  (await metrics.deliveries.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;

beforeEach(async () => {
  ({ store, cleanup } = await openTempStore());
  clock = new ManualClock(Date.UTC(2026, 0, 1));
  metrics = createMetrics();
  receiver = await startReceiver((req) => (verified(req) ? 200 : 400));
  // The receiver is on 127.0.0.1: opt in to private targets.
  endpoint = await createEndpoint(store.db, { url: receiver.url }, clock.now(), { allowPrivateWebhookUrls: true });
});

afterEach(async () => {
  for (const d of deliverers.splice(0)) await d.stop();
  await receiver.close();
  await cleanup();
});

describe('delivery-time address check', () => {
  it('refuses an IP-literal endpoint on a private address once private targets are not allowed', async () => {
    // `endpoint` targets 127.0.0.1 and was created while private targets were allowed.
    const ev = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, ev, clock.now());
    expect(await deliverer({ allowPrivateUrls: false }).tick()).toBe(1);
    expect(receiver.requests).toHaveLength(0);
    const d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(d.last_error).toMatch(/127\.0\.0\.1 is a loopback address/);
  });

  it('refuses a hostname that resolves to loopback when private targets are not allowed, and records why', async () => {
    // The endpoint was let in (say the name resolved elsewhere then); at delivery it resolves to 127.0.0.1.
    const byName = await createEndpoint(store.db, { url: receiver.url.replace('127.0.0.1', 'localhost') }, clock.now(), { allowPrivateWebhookUrls: true });
    await store.db.deleteFrom('webhook_endpoints').where('id', '=', endpoint.id).execute();
    const ev = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, ev, clock.now());

    expect(await deliverer({ allowPrivateUrls: false }).tick()).toBe(1);
    expect(receiver.requests).toHaveLength(0);
    const d = await deliveryOf(ev.id);
    expect(d.endpoint_id).toBe(byName.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(d.last_error).toMatch(/loopback/);

    // The same delivery goes through where private targets are allowed (the default of createDeliverer).
    clock.advance(60_000);
    expect(await deliverer().tick()).toBe(1);
    expect(receiver.requests).toHaveLength(1);
  });
});

describe('deliverer against a real HTTP receiver', () => {
  it('POSTs the stored payload byte for byte, signed, with the event id header', async () => {
    const ev = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, ev, clock.now());
    const stored = await store.db.selectFrom('events').select('payload').where('id', '=', ev.id).executeTakeFirstOrThrow();

    expect(await deliverer().tick()).toBe(1);
    expect(receiver.requests).toHaveLength(1);
    const req = receiver.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.path).toBe('/hooks');
    expect(req.body.toString('utf8')).toBe(stored.payload);
    expect(verified(req)).toBe(true);
    expect(verified(req, 'whsec_wrong')).toBe(false);
    expect(req.headers['refundhub-signature']).toMatch(new RegExp(`^t=${Math.floor(clock.now() / 1000)},v1=[0-9a-f]{64}$`));
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['user-agent']).toMatch(/^RefundHub\/\d+\.\d+\.\d+/);
    expect(req.headers['refundhub-event-id']).toBe(ev.id);
    expect(JSON.parse(req.body.toString('utf8'))).toMatchObject({ id: ev.id, type: 'refund.succeeded' });

    const d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 1, next_attempt_at: null, locked_until: null, last_status_code: 200, last_error: null });
    const attempts = await attemptsOf(d.id);
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ status_code: 200, error: null, attempted_at: clock.now() });
    expect(attempts[0]!.duration_ms).toBeGreaterThanOrEqual(0);
    expect(await outcomeCount('succeeded')).toBe(1);
    // Nothing left to do.
    clock.advance(DEFAULT_DELIVERY_SCHEDULE_MS[0]! * 10);
    expect(await deliverer().tick()).toBe(0);
    expect(receiver.requests).toHaveLength(1);
  });

  it('retries a 500 with backoff driven by the clock, same event id, until it succeeds', async () => {
    receiver.setRespond((req, i) => (i === 0 ? 500 : verified(req) ? 200 : 400));
    const ev = makeEvent('refund.failed', clock.now());
    await insertEvent(store.db, ev, clock.now());
    const dl = deliverer();
    const t0 = clock.now();

    expect(await dl.tick()).toBe(1);
    let d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500, last_error: 'HTTP 500', locked_until: null });
    expect(d.next_attempt_at).toBe(t0 + 30_000);

    // Not due yet: nothing is sent.
    expect(await dl.tick()).toBe(0);
    clock.advance(29_999);
    expect(await dl.tick()).toBe(0);
    expect(receiver.requests).toHaveLength(1);

    clock.advance(1);
    expect(await dl.tick()).toBe(1);
    expect(receiver.requests).toHaveLength(2);
    d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 2, last_status_code: 200, last_error: null, next_attempt_at: null });

    const attempts = await attemptsOf(d.id);
    expect(attempts.map((a) => [a.status_code, a.attempted_at])).toEqual([[500, t0], [200, t0 + 30_000]]);
    const eventIds = receiver.requests.map((r) => [r.headers['refundhub-event-id'], JSON.parse(r.body.toString('utf8')).id]);
    expect(eventIds).toEqual([[ev.id, ev.id], [ev.id, ev.id]]);
    expect(receiver.requests[0]!.body.equals(receiver.requests[1]!.body)).toBe(true);
    expect(receiver.requests.every((r) => verified(r))).toBe(true);
    expect(await outcomeCount('retry')).toBe(1);
    expect(await outcomeCount('succeeded')).toBe(1);
  });

  it('follows the default schedule (about 10 retries over a day) and gives up after the last attempt', async () => {
    receiver.setRespond(() => 503);
    const ev = makeEvent('refund.updated', clock.now());
    await insertEvent(store.db, ev, clock.now());
    const dl = deliverer();
    const t0 = clock.now();
    const maxAttempts = DEFAULT_DELIVERY_SCHEDULE_MS.length + 1;
    expect(maxAttempts).toBeGreaterThanOrEqual(10);

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      expect(await dl.tick(), `attempt ${attempt}`).toBe(1);
      const d = await deliveryOf(ev.id);
      expect(d.attempts).toBe(attempt);
      if (attempt < maxAttempts) {
        const wait = DEFAULT_DELIVERY_SCHEDULE_MS[attempt - 1]!;
        expect(d).toMatchObject({ status: 'pending', next_attempt_at: clock.now() + wait });
        clock.advance(wait - 1);
        expect(await dl.tick()).toBe(0);
        clock.advance(1);
      } else {
        expect(d).toMatchObject({ status: 'failed', next_attempt_at: null, last_status_code: 503 });
      }
    }
    const span = clock.now() - t0;
    expect(span).toBeGreaterThan(24 * 3600_000);
    expect(span).toBeLessThan(30 * 3600_000);

    clock.advance(7 * 24 * 3600_000);
    expect(await dl.tick()).toBe(0);
    expect(receiver.requests).toHaveLength(maxAttempts);
    const d = await deliveryOf(ev.id);
    const attempts = await attemptsOf(d.id);
    expect(attempts).toHaveLength(maxAttempts);
    expect(attempts.every((a) => a.status_code === 503 && a.error === null)).toBe(true);
    expect(new Set(receiver.requests.map((r) => r.headers['refundhub-event-id']))).toEqual(new Set([ev.id]));
    expect(await outcomeCount('retry')).toBe(maxAttempts - 1);
    expect(await outcomeCount('failed')).toBe(1);

    // The API's view: the event with every attempt and its response code.
    const page = await listDeliveries(store.db, endpoint.id);
    expect(page.data).toHaveLength(1);
    expect(page.data[0]).toMatchObject({ status: 'failed', attemptCount: maxAttempts, lastStatusCode: 503, event: { id: ev.id, type: 'refund.updated' } });
    expect(page.data[0]!.attempts.map((a) => a.statusCode)).toEqual(Array(maxAttempts).fill(503));
  });

  it('gives up after a custom schedule and jitters the waits by default', async () => {
    receiver.setRespond(() => 500);
    const ev = makeEvent('refund.updated', clock.now());
    await insertEvent(store.db, ev, clock.now());
    const dl = deliverer({ schedule: [10_000, 20_000], jitter: undefined });
    expect(await dl.tick()).toBe(1);
    const first = await deliveryOf(ev.id);
    expect(first.next_attempt_at! - clock.now()).toBeGreaterThanOrEqual(9_000);
    expect(first.next_attempt_at! - clock.now()).toBeLessThanOrEqual(11_000);
    clock.set(first.next_attempt_at!);
    expect(await dl.tick()).toBe(1);
    const second = await deliveryOf(ev.id);
    expect(second.next_attempt_at! - clock.now()).toBeGreaterThanOrEqual(18_000);
    expect(second.next_attempt_at! - clock.now()).toBeLessThanOrEqual(22_000);
    clock.set(second.next_attempt_at!);
    expect(await dl.tick()).toBe(1);
    expect(await deliveryOf(ev.id)).toMatchObject({ status: 'failed', attempts: 3, next_attempt_at: null });
    expect(receiver.requests).toHaveLength(3);
  });

  it('records network errors (no response) as attempts without a status code, and retries them', async () => {
    const dead = createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const deadPort = (dead.address() as AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    await store.db.updateTable('webhook_endpoints').set({ url: `http://127.0.0.1:${deadPort}/hooks` }).execute();

    const ev = makeEvent('refund.updated', clock.now());
    await insertEvent(store.db, ev, clock.now());
    expect(await deliverer().tick()).toBe(1);
    const d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
    expect(d.last_error).toMatch(/ECONNREFUSED/);
    const [a] = await attemptsOf(d.id);
    expect(a).toMatchObject({ status_code: null });
    expect(a!.error).toMatch(/ECONNREFUSED/);
  });

  it('times out a receiver that does not answer and records it', async () => {
    let release!: () => void;
    const hung = new Promise<number>((r) => {
      release = () => r(200);
    });
    receiver.setRespond(() => hung);
    const ev = makeEvent('refund.updated', clock.now());
    await insertEvent(store.db, ev, clock.now());
    try {
      expect(await deliverer({ timeoutMs: 300 }).tick()).toBe(1);
    } finally {
      release();
    }
    const d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, last_error: 'timeout after 300 ms' });
  });

  it('redelivers an event with the same id, recording the new attempt', async () => {
    const ev = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, ev, clock.now());
    const dl = deliverer();
    expect(await dl.tick()).toBe(1);
    expect(await deliveryOf(ev.id)).toMatchObject({ status: 'succeeded' });

    clock.advance(3600_000);
    expect(await redeliverEvent(store.db, ev.id, clock.now())).toEqual({ eventId: ev.id, deliveries: 1 });
    expect(await dl.tick()).toBe(1);
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests.map((r) => r.headers['refundhub-event-id'])).toEqual([ev.id, ev.id]);
    expect(receiver.requests[1]!.body.equals(receiver.requests[0]!.body)).toBe(true);
    // Freshly signed for the new time.
    expect(receiver.requests[1]!.headers['refundhub-signature']).not.toBe(receiver.requests[0]!.headers['refundhub-signature']);
    expect(verified(receiver.requests[1]!)).toBe(true);
    const d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 1 });
    expect((await attemptsOf(d.id)).map((a) => a.status_code)).toEqual([200, 200]);
  });

  it('re-delivers after a crash once the lease expires (claimed, never finished)', async () => {
    const ev = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, ev, clock.now());
    const leaseMs = 60_000;

    // A worker claims the delivery and dies before sending or recording anything.
    const claimed = await claimDeliveries(store.db, clock.now(), 10, leaseMs);
    expect(claimed.map((c) => c.eventId)).toEqual([ev.id]);
    expect(await deliveryOf(ev.id)).toMatchObject({ status: 'pending', locked_until: clock.now() + leaseMs, next_attempt_at: clock.now() + leaseMs });

    // While the lease holds nobody else takes it (not even another claim)...
    const restarted = deliverer({ leaseMs });
    expect(await claimDeliveries(store.db, clock.now(), 10, leaseMs)).toEqual([]);
    expect(await restarted.tick()).toBe(0);
    clock.advance(leaseMs - 1);
    expect(await restarted.tick()).toBe(0);
    expect(receiver.requests).toHaveLength(0);

    // ...and once it expires the delivery goes out, exactly once, with the same event id.
    clock.advance(1);
    expect(await restarted.tick()).toBe(1);
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.headers['refundhub-event-id']).toBe(ev.id);
    expect(verified(receiver.requests[0]!)).toBe(true);
    const d = await deliveryOf(ev.id);
    expect(d).toMatchObject({ status: 'succeeded', attempts: 1, locked_until: null });

    // The crashed worker's late finish (stale lease) cannot overwrite the newer state.
    const stale = await store.db
      .updateTable('deliveries')
      .set({ status: 'pending' })
      .where('id', '=', d.id)
      .where('locked_until', '=', claimed[0]!.leaseUntil)
      .executeTakeFirst();
    expect(Number(stale.numUpdatedRows)).toBe(0);
  });

  it('two deliverers on the same database never send the same due delivery twice', async () => {
    for (let i = 0; i < 6; i++) await insertEvent(store.db, makeEvent('refund.updated', clock.now()), clock.now());
    const a = deliverer({ batchSize: 4 });
    const b = deliverer({ batchSize: 4 });
    let total = 0;
    for (let round = 0; round < 10; round++) {
      // Both race for the same candidates; the compare-and-set claim lets only one take each.
      const [na, nb] = await Promise.all([a.tick(), b.tick()]);
      total += na + nb;
      if (na + nb === 0) break;
    }
    expect(total).toBe(6);
    expect(receiver.requests).toHaveLength(6);
    expect(new Set(receiver.requests.map((r) => r.headers['refundhub-event-id'])).size).toBe(6);
  });

  it('start() delivers in the background and stop() ends the loop', async () => {
    const dl = deliverer({ intervalMs: 10 });
    dl.start();
    const ev = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, ev, clock.now());
    await pollUntil(async () => (await deliveryOf(ev.id)).status === 'succeeded', { what: 'background delivery' });
    await dl.stop();
    const later = makeEvent('refund.succeeded', clock.now());
    await insertEvent(store.db, later, clock.now());
    // Stopped: a tick would have happened within a few intervals; the row stays pending.
    await new Promise((r) => setTimeout(r, 100));
    expect(await deliveryOf(later.id)).toMatchObject({ status: 'pending', attempts: 0 });
    expect(receiver.requests).toHaveLength(1);
  });
});
