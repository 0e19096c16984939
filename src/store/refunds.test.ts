import { afterAll, afterEach, beforeEach, expect, it } from 'vitest';
import { describeStores } from '../../test/support/stores.js';
import type { ProviderId, RefundStatus } from '../domain/refund.js';
import { createStore, type Store } from './index.js';
import { claimDue, countByStatus, countDue, getHistory, getTracked, listTracked, rescheduleCheck } from './refunds.js';
import type { RefundsTable } from './schema.js';

/** The refunds repository on both stores: one set of rules, two dialects. */

const T0 = Date.UTC(2026, 0, 1);

function row(provider: ProviderId, id: string, over: Partial<RefundsTable> = {}): RefundsTable {
  return {
    provider,
    account: 'default',
    refund_id: id,
    status: 'pending',
    provider_status: 'pending',
    payment_id: null,
    amount: 100,
    currency: 'EUR',
    amount_decimal: '1.00',
    reason: null,
    created_at: '2025-12-01T00:00:00.000Z',
    updated_at: null,
    failure_code: null,
    failure_message: null,
    raw: '{"id":"x"}',
    currency_hint: null,
    tracked_at: T0,
    last_checked_at: T0,
    next_check_at: T0 + 60_000,
    check_count: 1,
    final_at: null,
    stuck: 0,
    error_count: 0,
    last_error_code: null,
    last_error_message: null,
    sequence: 1,
    ...over,
  };
}

describeStores('refunds repository', (backend) => {
  let store: Store;
  beforeEach(async () => {
    store = await createStore(await backend.newDatabaseUrl());
  });
  afterEach(async () => {
    await store?.close();
  });
  afterAll(() => backend.cleanup());

  it('maps a row to a TrackedRefund', async () => {
    await store.db.insertInto('refunds').values(row('ziina', 'a', { failure_code: 'x', last_error_code: 'provider_error', last_error_message: 'boom' })).execute();
    const t = await getTracked(store.db, { provider: 'ziina', account: 'default', id: 'a' });
    expect(t).toMatchObject({
      provider: 'ziina',
      id: 'a',
      amount: 100,
      currency: 'EUR',
      failure: { code: 'x', message: null },
      raw: { id: 'x' },
      tracking: {
        trackedAt: new Date(T0).toISOString(),
        nextCheckAt: new Date(T0 + 60_000).toISOString(),
        checkCount: 1,
        stuck: false,
        finalAt: null,
        lastError: { code: 'provider_error', message: 'boom' },
      },
    });
    expect(await getTracked(store.db, { provider: 'ziina', account: 'default', id: 'b' })).toBeNull();
  });

  it('lists with stable cursor pagination and filters', async () => {
    const rows: RefundsTable[] = [];
    const statuses: RefundStatus[] = ['pending', 'succeeded', 'failed'];
    for (let i = 0; i < 25; i++) {
      rows.push(
        row(i % 2 ? 'stan' : 'ziina', `r${String(i).padStart(2, '0')}`, {
          // Several share a tracked_at: the order must still be total.
          tracked_at: T0 + Math.floor(i / 3),
          status: statuses[i % 3]!,
          stuck: i === 7 ? 1 : 0,
          created_at: new Date(Date.UTC(2025, 11, 1 + i)).toISOString(),
        }),
      );
    }
    await store.db.insertInto('refunds').values(rows.slice().reverse()).execute();
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await listTracked(store.db, { limit: 10, cursor });
      seen.push(...page.data.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    const expected = rows
      .slice()
      .sort((a, b) => a.tracked_at - b.tracked_at || a.provider.localeCompare(b.provider) || a.refund_id.localeCompare(b.refund_id))
      .map((r) => r.refund_id);
    expect(expected.slice(0, 3)).toEqual(['r01', 'r00', 'r02']);
    expect(seen).toEqual(expected);

    expect((await listTracked(store.db, { provider: 'stan', limit: 100 })).data.every((r) => r.provider === 'stan')).toBe(true);
    expect((await listTracked(store.db, { provider: 'stan', limit: 100 })).data).toHaveLength(12);
    expect((await listTracked(store.db, { status: 'succeeded' })).data.map((r) => r.id)).toEqual(['r01', 'r04', 'r07', 'r10', 'r13', 'r16', 'r19', 'r22']);
    expect((await listTracked(store.db, { stuck: true })).data.map((r) => r.id)).toEqual(['r07']);
    expect((await listTracked(store.db, { createdFrom: '2025-12-03', createdTo: '2025-12-05T00:00:00Z' })).data.map((r) => r.id)).toEqual(['r02', 'r03', 'r04']);
    await expect(listTracked(store.db, { cursor: 'garbage' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(listTracked(store.db, { createdFrom: 'yesterday' })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('claims only what is due, most overdue first, leasing it so nobody takes it twice', async () => {
    await store.db
      .insertInto('refunds')
      .values([
        row('ziina', 'late', { next_check_at: T0 - 5000 }),
        row('stan', 'due', { next_check_at: T0 }),
        row('ziina', 'future', { next_check_at: T0 + 1 }),
        row('ziina', 'done', { next_check_at: null, status: 'succeeded' }),
        row('gr4vy', 'due2', { next_check_at: T0 - 10, currency_hint: 'USD' }),
      ])
      .execute();
    expect(await countDue(store.db, T0)).toBe(3);
    const claimed = await claimDue(store.db, T0, 2, 60_000);
    expect(claimed.map((c) => c.id).sort()).toEqual(['due2', 'late']);
    expect(claimed.find((c) => c.id === 'due2')).toEqual({ provider: 'gr4vy', account: 'default', id: 'due2', currencyHint: 'USD' });
    // Leased: a second taker gets only the remaining due one.
    const second = await claimDue(store.db, T0, 10, 60_000);
    expect(second.map((c) => c.id)).toEqual(['due']);
    const leased = await getTracked(store.db, { provider: 'stan', account: 'default', id: 'due' });
    expect(leased?.tracking.nextCheckAt).toBe(new Date(T0 + 60_000).toISOString());
    expect(await claimDue(store.db, T0, 10, 60_000)).toEqual([]);
    // After the lease runs out (a crashed worker), they come back.
    expect((await claimDue(store.db, T0 + 60_000, 10, 60_000)).map((c) => c.id).sort()).toEqual(['due', 'due2', 'future', 'late']);

    await rescheduleCheck(store.db, { provider: 'stan', account: 'default', id: 'due' }, T0 + 10);
    expect((await claimDue(store.db, T0 + 10, 10, 1, { excludeProviders: ['stan'] })).map((c) => c.id)).toEqual([]);
    expect((await claimDue(store.db, T0 + 10, 10, 1)).map((c) => c.id)).toEqual(['due']);
  });

  it('concurrent claimers never take the same refund', async () => {
    await store.db.insertInto('refunds').values(Array.from({ length: 60 }, (_, i) => row('ziina', `c${i}`, { next_check_at: T0 - i }))).execute();
    const results = await Promise.all([claimDue(store.db, T0, 40, 60_000), claimDue(store.db, T0, 40, 60_000), claimDue(store.db, T0, 40, 60_000)]);
    const ids = results.flat().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(60);
  });

  it('counts by status and returns history oldest first', async () => {
    await store.db.insertInto('refunds').values([row('ziina', 'a'), row('ziina', 'b', { status: 'failed' }), row('stan', 'c', { status: 'failed' })]).execute();
    expect(await countByStatus(store.db)).toEqual({ pending: 1, requires_action: 0, succeeded: 0, failed: 2, canceled: 0, unknown: 0 });
    const base = { provider: 'ziina', account: 'default', refund_id: 'a', provider_status: 'x', source: 'poll', raw: '{"s":1}', note: null };
    await store.db
      .insertInto('refund_history')
      .values([
        { ...base, kind: 'tracked', from_status: null, to_status: 'pending', observed_at: T0 },
        { ...base, kind: 'change', from_status: 'pending', to_status: 'succeeded', observed_at: T0 + 1 },
        { ...base, refund_id: 'b', kind: 'tracked', from_status: null, to_status: 'failed', observed_at: T0 },
      ])
      .execute();
    const h = await getHistory(store.db, { provider: 'ziina', account: 'default', id: 'a' });
    expect(h.map((e) => [e.kind, e.from, e.to, e.observedAt])).toEqual([
      ['tracked', null, 'pending', new Date(T0).toISOString()],
      ['change', 'pending', 'succeeded', new Date(T0 + 1).toISOString()],
    ]);
    expect(h[0]!.raw).toEqual({ s: 1 });
  });
});

describeStores('search by merchant reference', (backend) => {
  let store: Store;
  beforeEach(async () => {
    store = await createStore(await backend.newDatabaseUrl());
  });
  afterEach(async () => {
    await store?.close();
  });
  afterAll(() => backend.cleanup());

  it('finds exactly the refunds with that reference (exact, case-sensitive), alone or with q and other filters', async () => {
    await store.db
      .insertInto('refunds')
      .values([
        row('tazapay', 't1', { merchant_reference: 'order-1042', customer_receives_amount: 133200, customer_receives_currency: 'SGD', customer_receives_decimal: '1332.00', metadata: '{"k":"v"}', provider_reference: 'btr_1' }),
        row('gr4vy', 'g1', { merchant_reference: 'order-1042', tracked_at: T0 + 1 }),
        row('onekey', 'o1', { merchant_reference: 'order-10420' }),
        row('ziina', 'z1'),
      ])
      .execute();
    expect((await listTracked(store.db, { merchantReference: 'order-1042' })).data.map((r) => r.id)).toEqual(['t1', 'g1']);
    expect((await listTracked(store.db, { merchantReference: 'order-1042', provider: 'gr4vy' })).data.map((r) => r.id)).toEqual(['g1']);
    expect((await listTracked(store.db, { merchantReference: 'ORDER-1042' })).data).toEqual([]);
    // The free-text search matches a merchant reference as it matches ids.
    expect((await listTracked(store.db, { q: 'order-10420' })).data.map((r) => r.id)).toEqual(['o1']);
    const t1 = (await listTracked(store.db, { merchantReference: 'order-1042', limit: 1 })).data[0]!;
    expect(t1).toMatchObject({
      merchantReference: 'order-1042',
      customerReceives: { amount: 133200, currency: 'SGD', amountDecimal: '1332.00' },
      metadata: { k: 'v' },
      providerReference: 'btr_1',
    });
    expect((await getTracked(store.db, { provider: 'ziina', account: 'default', id: 'z1' }))).toMatchObject({ merchantReference: null, customerReceives: null, metadata: null, providerReference: null });
  });

  it('a reference longer than the stored bound is kept cut and still found by the full string', async () => {
    const { boundedText, MAX_MERCHANT_REFERENCE_CHARS } = await import('./text.js');
    const long = 'R'.repeat(3000);
    await store.db.insertInto('refunds').values(row('gr4vy', 'long', { merchant_reference: boundedText(long, MAX_MERCHANT_REFERENCE_CHARS) })).execute();
    expect((await listTracked(store.db, { merchantReference: long })).data.map((r) => r.id)).toEqual(['long']);
  });
});
