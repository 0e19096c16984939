import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, parseStuckAfter } from '../src/config/index.js';
import { RefundHubError } from '../src/errors.js';
import { getProvider } from '../src/providers/registry.js';
import { createScheduler } from '../src/poller/schedule.js';
import { getHistory } from '../src/store/refunds.js';
import { buildReport } from '../src/store/report.js';
import { syncRefund } from '../src/sync/sync-refund.js';
import { cleanupTempDatabases } from './support/db.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { createTestEngine, type TestEngine } from './support/engine.js';
import { rejectionOf } from './support/errors.js';
import { tempDir } from './support/hub.js';

/** Per-provider stuck thresholds: `providers.<p>.stuckAfter` in the config file. */

const H = 3_600_000;
const D = 24 * H;

let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir();
});
afterAll(() => tmp.cleanup());

function configFile(providers: unknown): string {
  const file = join(tmp.dir, `c-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, JSON.stringify({ providers }));
  return file;
}

describe('providers.<p>.stuckAfter in the config file', () => {
  it('parses s, m, h and d', () => {
    expect(parseStuckAfter('3d', 'x')).toBe(3 * D);
    expect(parseStuckAfter('36h', 'x')).toBe(36 * H);
    expect(parseStuckAfter('90m', 'x')).toBe(90 * 60_000);
    expect(parseStuckAfter(' 45s ', 'x')).toBe(45_000);
    const config = loadConfig({ env: {}, file: configFile({ stan: { stuckAfter: '3d' }, ziina: { concurrency: 2 } }) });
    expect(config.providers.stan?.stuckAfterMs).toBe(3 * D);
    expect(config.providers.ziina?.stuckAfterMs).toBeUndefined();
  });

  it.each([['3x'], ['0d'], ['1.5d'], ['3w'], ['-1d'], [''], [5], [null], ['3651d']])('refuses %j at load with not_configured naming the setting', async (bad) => {
    const file = configFile({ tazapay: { stuckAfter: bad } });
    const err = await rejectionOf(Promise.resolve().then(() => loadConfig({ env: {}, file })));
    expect(err).toBeInstanceOf(RefundHubError);
    expect((err as RefundHubError).code).toBe('not_configured');
    expect((err as RefundHubError).message).toContain('providers.tazapay.stuckAfter');
    expect((err as RefundHubError).message).toContain('s, m, h or d');
  });

  it('refuses a providers entry that is not an object', async () => {
    const err = await rejectionOf(Promise.resolve().then(() => loadConfig({ env: {}, file: configFile({ stan: '3d' }) })));
    expect((err as RefundHubError).message).toContain('providers.stan must be an object');
  });

  it("the scheduler uses each provider's threshold, 30 days for the others", () => {
    const config = loadConfig({ env: {}, file: configFile({ stan: { stuckAfter: '3d' } }) });
    const s = createScheduler({ config, jitter: 0 });
    const pending = (provider: 'stan' | 'ziina') => ({ provider, status: 'pending' as const, trackedAt: 0, checkCount: 5, finalAt: null });
    expect(s.stuckAfterMs('stan')).toBe(3 * D);
    expect(s.stuckAfterMs('ziina')).toBe(30 * D);
    expect(s.isStuck(pending('stan'), 3 * D - 1)).toBe(false);
    expect(s.isStuck(pending('stan'), 3 * D)).toBe(true);
    expect(s.isStuck(pending('ziina'), 3 * D)).toBe(false);
    expect(s.isStuck(pending('ziina'), 30 * D)).toBe(true);
  });
});

describe('stuckAfter through the spine', () => {
  let emu: RunningEmulator;
  let eng: TestEngine;
  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.close();
    cleanupTempDatabases();
  });
  beforeEach(async () => {
    emu.emulator.reset();
    const config = emu.config();
    config.providers.ziina = { stuckAfter: '2d', stuckAfterMs: 2 * D };
    eng = await createTestEngine(config);
  });
  afterEach(async () => {
    await eng.close();
  });

  it('raises refund.stuck once past the provider threshold, leaves other providers alone, and shows in the report', async () => {
    const ziina = { provider: 'ziina' as const, account: 'default', id: String(emu.emulator.createRefund('ziina', { status: 'pending' }).id) };
    const stan = { provider: 'stan' as const, account: 'default', id: getProvider('stan').emulator.idOf(emu.emulator.createRefund('stan', {})) };
    await syncRefund(eng.deps, { ...ziina, source: 'api' });
    expect((await syncRefund(eng.deps, { ...stan, source: 'api' })).refund.status).toBe('pending');

    eng.clock.advance(2 * D - 1);
    expect((await syncRefund(eng.deps, { ...ziina, source: 'poll' })).events.map((e) => e.type)).toEqual([]);
    eng.clock.advance(1);
    const stuck = await syncRefund(eng.deps, { ...ziina, source: 'poll' });
    expect(stuck.refund.tracking.stuck).toBe(true);
    expect(stuck.events.map((e) => e.type)).toEqual(['refund.stuck']);
    eng.clock.advance(D);
    expect((await syncRefund(eng.deps, { ...ziina, source: 'poll' })).events).toEqual([]);
    const history = await getHistory(eng.store.db, ziina);
    expect(history.map((h) => h.kind)).toEqual(['tracked', 'stuck']);
    expect(history[1]!.note).toBe('not final 2 days after tracking started');

    // Stan keeps the default 30 days: three days pending is not stuck.
    const other = await syncRefund(eng.deps, { ...stan, source: 'poll' });
    expect(other.refund.status).toBe('pending');
    expect(other.refund.tracking.stuck).toBe(false);

    const report = await buildReport(eng.store.db, eng.clock.now(), 7 * D);
    expect(report.stuck.count).toBe(1);
    expect(report.stuck.refunds).toEqual([expect.objectContaining({ provider: 'ziina', id: ziina.id, status: 'pending' })]);
    expect(report.groups.find((g) => g.provider === 'ziina')?.stuck).toBe(1);
    expect(report.groups.find((g) => g.provider === 'stan')).toMatchObject({ stuck: 0, total: 1 });
  });
});
