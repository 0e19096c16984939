import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EVENT_TYPES } from '../../src/domain/events.js';
import { RefundHubError } from '../../src/errors.js';
import { createEndpoint, deleteEndpoint, getEndpoint, listDeliveries, listEndpoints, redeliverEvent } from '../../src/notify/endpoints.js';
import { countPendingDeliveries, enqueueDeliveries } from '../../src/notify/outbox.js';
import type { Store } from '../../src/store/index.js';
import { insertEvent, makeEvent, openTempStore } from './helpers.js';

const NOW = Date.UTC(2026, 0, 1);
/** These endpoints are never called; skip the SSRF check (and its DNS lookups of *.example). */
const OPEN = { allowPrivateWebhookUrls: true };

let store: Store;
let cleanup: () => Promise<void>;
beforeEach(async () => {
  ({ store, cleanup } = await openTempStore());
});
afterEach(async () => {
  await cleanup();
});

const deliveryRows = (eventId: string) =>
  store.db.selectFrom('deliveries').selectAll().where('event_id', '=', eventId).orderBy('endpoint_id').execute();

describe('endpoints', () => {
  it('creates an endpoint with a whsec_ secret shown once, and lists it without the secret', async () => {
    const ep = await createEndpoint(store.db, { url: 'https://merchant.example/hooks', events: ['refund.succeeded', 'refund.failed', 'refund.succeeded'] }, NOW, OPEN);
    expect(ep.id).toMatch(/^we_/);
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(ep.secret.slice('whsec_'.length), 'base64url')).toHaveLength(32);
    expect(ep.events).toEqual(['refund.succeeded', 'refund.failed']);
    expect(ep.createdAt).toBe('2026-01-01T00:00:00.000Z');
    const other = await createEndpoint(store.db, { url: 'http://127.0.0.1:9/x' }, NOW + 1, OPEN);
    expect(other.events).toEqual(['*']);
    expect(other.secret).not.toBe(ep.secret);

    const listed = await listEndpoints(store.db);
    expect(listed).toEqual([
      { id: ep.id, url: 'https://merchant.example/hooks', events: ['refund.succeeded', 'refund.failed'], createdAt: ep.createdAt },
      { id: other.id, url: 'http://127.0.0.1:9/x', events: ['*'], createdAt: other.createdAt },
    ]);
    expect(JSON.stringify(listed)).not.toContain('whsec_');
    expect(await getEndpoint(store.db, ep.id)).toEqual(listed[0]);
  });

  it('rejects bad urls and unknown event types with invalid_input', async () => {
    const bad: unknown[] = [
      { url: 'ftp://x.example/' },
      { url: 'not a url' },
      { url: '' },
      {},
      { url: 'javascript:alert(1)' },
      { url: `https://x.example/${'a'.repeat(3000)}` },
      { url: 'https://x.example/', events: ['refund.nope'] },
      { url: 'https://x.example/', events: [] },
      { url: 'https://x.example/', events: 'refund.succeeded' },
      { url: 'https://x.example/', events: [42] },
    ];
    for (const input of bad) {
      const err = await createEndpoint(store.db, input as never).catch((e: unknown) => e);
      expect(err, JSON.stringify(input).slice(0, 80)).toBeInstanceOf(RefundHubError);
      expect((err as RefundHubError).code).toBe('invalid_input');
    }
    expect(await listEndpoints(store.db)).toEqual([]);
  });

  it('soft-deletes: gone from listings, its pending deliveries stop, its log stays', async () => {
    const ep = await createEndpoint(store.db, { url: 'https://a.example/' }, NOW, OPEN);
    const ev = makeEvent('refund.updated', NOW);
    await insertEvent(store.db, ev, NOW);
    expect(await deleteEndpoint(store.db, ep.id, NOW + 5)).toBe(true);
    expect(await deleteEndpoint(store.db, ep.id, NOW + 6)).toBe(false);
    expect(await deleteEndpoint(store.db, 'we_missing')).toBe(false);
    expect(await listEndpoints(store.db)).toEqual([]);
    expect(await getEndpoint(store.db, ep.id)).toBeNull();
    const [row] = await deliveryRows(ev.id);
    expect(row).toMatchObject({ status: 'failed', next_attempt_at: null, last_error: 'endpoint deleted' });
    const page = await listDeliveries(store.db, ep.id);
    expect(page.data.map((d) => d.event.id)).toEqual([ev.id]);
    // New events no longer reach it.
    expect(await insertEvent(store.db, makeEvent('refund.updated', NOW), NOW)).toBe(0);
  });
});

describe('enqueueDeliveries', () => {
  it('fans out one pending delivery per active endpoint whose subscription matches', async () => {
    const all = await createEndpoint(store.db, { url: 'https://all.example/' }, NOW, OPEN);
    const updated = await createEndpoint(store.db, { url: 'https://updated.example/', events: ['refund.updated'] }, NOW, OPEN);
    const succeeded = await createEndpoint(store.db, { url: 'https://ok.example/', events: ['refund.succeeded'] }, NOW, OPEN);
    const failed = await createEndpoint(store.db, { url: 'https://ko.example/', events: ['refund.failed', 'refund.reversed'] }, NOW, OPEN);
    const gone = await createEndpoint(store.db, { url: 'https://gone.example/' }, NOW, OPEN);
    await deleteEndpoint(store.db, gone.id, NOW);

    const expectations: Record<string, string[]> = {
      'refund.succeeded': [all.id, updated.id, succeeded.id],
      'refund.failed': [all.id, updated.id, failed.id],
      'refund.reversed': [all.id, updated.id, failed.id],
      'refund.updated': [all.id, updated.id],
      'refund.stuck': [all.id, updated.id],
    };
    for (const [type, endpointIds] of Object.entries(expectations)) {
      const ev = makeEvent(type as never, NOW);
      expect(await insertEvent(store.db, ev, NOW + 10)).toBe(endpointIds.length);
      const rows = await deliveryRows(ev.id);
      expect(rows.map((r) => r.endpoint_id).sort()).toEqual([...endpointIds].sort());
      for (const r of rows) {
        expect(r).toMatchObject({ status: 'pending', attempts: 0, next_attempt_at: NOW + 10, locked_until: null, created_at: NOW + 10 });
        expect(r.id).toMatch(/^dlv_/);
      }
    }
    expect(await countPendingDeliveries(store.db)).toBe(3 + 3 + 3 + 2 + 2);
    expect(EVENT_TYPES).toContain('refund.stuck');
  });

  it('writes nothing when no endpoint matches, and rolls back with the transaction', async () => {
    await createEndpoint(store.db, { url: 'https://ok.example/', events: ['refund.succeeded'] }, NOW, OPEN);
    const ev = makeEvent('refund.failed', NOW);
    expect(await insertEvent(store.db, ev, NOW)).toBe(0);
    expect(await deliveryRows(ev.id)).toEqual([]);

    const rolledBack = makeEvent('refund.succeeded', NOW);
    await expect(
      store.db.transaction().execute(async (tx) => {
        expect(await enqueueDeliveries(tx, rolledBack, NOW)).toBe(1);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect(await deliveryRows(rolledBack.id)).toEqual([]);
  });
});

describe('listDeliveries and redeliverEvent', () => {
  it('pages newest first with a cursor and 404s an unknown endpoint', async () => {
    const ep = await createEndpoint(store.db, { url: 'https://a.example/' }, NOW, OPEN);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const ev = makeEvent('refund.updated', NOW);
      ids.push(ev.id);
      await insertEvent(store.db, ev, NOW + i * 1000);
    }
    const p1 = await listDeliveries(store.db, ep.id, { limit: 2 });
    expect(p1.data.map((d) => d.event.id)).toEqual([ids[4], ids[3]]);
    expect(p1.nextCursor).toBeTruthy();
    const p2 = await listDeliveries(store.db, ep.id, { limit: 2, cursor: p1.nextCursor });
    expect(p2.data.map((d) => d.event.id)).toEqual([ids[2], ids[1]]);
    const p3 = await listDeliveries(store.db, ep.id, { limit: 2, cursor: p2.nextCursor });
    expect(p3.data.map((d) => d.event.id)).toEqual([ids[0]]);
    expect(p3.nextCursor).toBeNull();
    expect(p1.data[0]).toMatchObject({ status: 'pending', attemptCount: 0, attempts: [], event: { type: 'refund.updated', provider: 'ziina', account: 'default' } });

    await expect(listDeliveries(store.db, 'we_nope')).rejects.toMatchObject({ code: 'not_found' });
    await expect(listDeliveries(store.db, ep.id, { cursor: 'garbage!' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(listDeliveries(store.db, ep.id, { limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(listDeliveries(store.db, ep.id, { limit: 1000 })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('redelivers with the same event id: re-arms existing deliveries, adds endpoints that never had it', async () => {
    const first = await createEndpoint(store.db, { url: 'https://a.example/' }, NOW, OPEN);
    const ev = makeEvent('refund.succeeded', NOW);
    await insertEvent(store.db, ev, NOW);
    await store.db.updateTable('deliveries').set({ status: 'failed', attempts: 11, next_attempt_at: null, last_error: 'HTTP 500' }).execute();
    const later = await createEndpoint(store.db, { url: 'https://b.example/', events: ['refund.succeeded'] }, NOW + 1, OPEN);
    await createEndpoint(store.db, { url: 'https://c.example/', events: ['refund.failed'] }, NOW + 1, OPEN);

    const res = await redeliverEvent(store.db, ev.id, NOW + 60_000);
    expect(res).toEqual({ eventId: ev.id, deliveries: 2 });
    const rows = await deliveryRows(ev.id);
    expect(rows.map((r) => r.endpoint_id).sort()).toEqual([first.id, later.id].sort());
    for (const r of rows) expect(r).toMatchObject({ event_id: ev.id, status: 'pending', attempts: 0, next_attempt_at: NOW + 60_000, locked_until: null });
    // Still one delivery per (event, endpoint): redelivering twice re-arms, it does not duplicate.
    await redeliverEvent(store.db, ev.id, NOW + 120_000);
    expect(await deliveryRows(ev.id)).toHaveLength(2);

    await expect(redeliverEvent(store.db, 'evt_missing', NOW)).rejects.toMatchObject({ code: 'not_found' });
  });
});
