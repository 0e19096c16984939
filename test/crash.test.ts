import { silentLogger } from '../src/logger.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefundClient } from '../src/client.js';
import type { RefundEvent } from '../src/domain/events.js';
import { PROVIDER_IDS, type ProviderId } from '../src/domain/refund.js';
import { NOTIFICATION_RETRY_DELAYS_MS } from '../src/emulator/server.js';
import { createEndpoint } from '../src/notify/endpoints.js';
import { getProvider } from '../src/providers/registry.js';
import { API_SCOPES, createApiKey } from '../src/server/auth.js';
import { createStore } from '../src/store/index.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startReceiver, tempDir, type WebhookReceiver } from './support/hub.js';
import { pollUntil } from './support/wait.js';

/**
 * Crash safety: the hub runs as a child process on a SQLite file and is SIGKILLed twice while
 * syncs (slowed by emulator latency) and webhook deliveries (slowed by the receiver) are in
 * flight, while refunds keep changing at the emulator. It restarts on the same file each time.
 * Afterwards: every refund ends at the provider's status, no status change is lost or applied
 * twice (history and events form one unbroken chain per refund, sequences contiguous, one event
 * per change), and the receiver got every event id, each always with the same payload.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURE = join(ROOT, 'test/fixtures/crash-server.ts');
const PER_PROVIDER = 4;
/**
 * How long a (re)start may take to print READY. tsx compiles the fixture and src/ on every start:
 * 10-12 s each on a 2-core machine with three other busy processes (measured), more under CI.
 */
const START_TIMEOUT_MS = 90_000;
/**
 * The emulator's notification retries here: the provider-like default (~25 s over 8 attempts), then
 * every 15 s for 90 s more. Refunds change while the hub is down (between a kill and the restart);
 * a restart can outlast 25 s on a loaded machine, and a real provider retries for hours, so the
 * retries must outlast the restart or the change is lost (a reversal after the last late check is
 * seen by nothing else).
 */
const NOTIFICATION_RETRIES_MS = [...NOTIFICATION_RETRY_DELAYS_MS, ...Array<number>(6).fill(15_000)];

let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
let rx: WebhookReceiver;
let child: ChildProcess | undefined;

async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function spawnHub(dbFile: string, port: number): Promise<{ proc: ChildProcess; url: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, CRASH_DB: dbFile, CRASH_PORT: String(port), CRASH_SETTINGS: JSON.stringify(em.settings) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let out = '';
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hub did not start within ${START_TIMEOUT_MS} ms: ${err}`)), START_TIMEOUT_MS);
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /READY (\S+)/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(m[1]!);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`hub exited with ${code}: ${err}`));
    });
  });
  return { proc, url };
}

async function kill(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(signal);
  await exited;
}

async function metric(url: string, name: string): Promise<number> {
  const r = await call(`${url}/metrics`);
  const m = new RegExp(`^${name.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(r.text);
  return m ? Number(m[1]) : 0;
}

beforeAll(async () => {
  tmp = tempDir('refundhub-crash-');
  em = await startEmulator({ notificationRetryDelaysMs: NOTIFICATION_RETRIES_MS });
  rx = await startReceiver();
});

afterAll(async () => {
  if (child) await kill(child, 'SIGKILL');
  await em?.close();
  await rx?.close();
  tmp?.cleanup();
});

interface Plan {
  provider: ProviderId;
  id: string;
  steps: string[];
}

describe('crash safety', () => {
  it('SIGKILL during syncs and deliveries loses nothing and applies nothing twice', async () => {
    const dbFile = join(tmp.dir, 'crash.db');
    const port = await freePort();
    em.emulator.notifyUrl = `http://127.0.0.1:${port}/v1/notifications`;

    // Key and endpoint straight into the file before the first start.
    const setup = await createStore(`sqlite:${dbFile}`);
    const key = await createApiKey(setup.db, API_SCOPES, 'crash');
    const endpoint = await createEndpoint(setup.db, { url: rx.url }, Date.now(), { allowPrivateWebhookUrls: true });
    await setup.close();
    rx.secret = endpoint.secret;

    // Refunds and the native status path each will walk (some end with a reversal to another final status).
    const plans: Plan[] = [];
    for (const p of PROVIDER_IDS) {
      const demos = getProvider(p).emulator.demoRefunds();
      for (let i = 0; i < PER_PROVIDER; i++) {
        const id = getProvider(p).emulator.idOf(em.emulator.createRefund(p, {}));
        const steps = demos[0]!.lifecycle.map((s) => s.status);
        const other = demos[1]?.lifecycle.at(-1)?.status;
        if (i % 2 === 1 && other && other !== steps.at(-1)) steps.push(other);
        plans.push({ provider: p, id, steps });
      }
    }
    let stepsDone = 0;
    const totalSteps = plans.reduce((n, p) => n + p.steps.length, 0);
    const advance = (): boolean => {
      const open = plans.filter((p) => p.steps.length > 0);
      const plan = open[Math.floor(Math.random() * open.length)];
      if (!plan) return false;
      em.emulator.setStatus(plan.provider, plan.id, plan.steps.shift()!);
      stepsDone++;
      return true;
    };

    // Every wait below is on an event (a row, a received webhook, a provider request logged by
    // the emulator), bounded generously; nothing depends on how fast the machine is.
    const requestSince = (t: number): boolean => PROVIDER_IDS.some((p) => em.emulator.requests(p).some((r) => Date.parse(r.time) >= t));
    /** Changes `n` refunds at the emulator (their notifications go to the hub), then waits for the hub to call a provider. */
    const changeAndSeeASync = async (n: number, what: string): Promise<void> => {
      const mark = Date.now();
      for (let i = 0; i < n; i++) advance();
      await pollUntil(() => requestSince(mark), { timeoutMs: 60_000, what });
    };

    // --- run 1: track everything, change some refunds, kill while a sync is in flight ---
    let hub = await spawnHub(dbFile, port);
    for (const p of plans) expect((await call(`${hub.url}/v1/refunds`, { key, json: { provider: p.provider, id: p.id } })).status).toBe(201);
    rx.delayMs = 80; // deliveries stay in flight a while
    await changeAndSeeASync(3, 'syncs after the first changes');
    await pollUntil(() => rx.received.length >= 3, { timeoutMs: 60_000, what: 'webhooks before the first kill' });
    // Every provider call now takes 150 ms: the kill lands right after a call started.
    for (const p of PROVIDER_IDS) em.emulator.injectFault(p, { kind: 'latency', count: 40, delayMs: 150 });
    await changeAndSeeASync(3, 'a sync in flight before the first kill');
    await kill(hub.proc, 'SIGKILL');
    advance();
    advance();

    // --- run 2: restart on the same file, kill again while busy ---
    const receivedAtKill = rx.received.length;
    hub = await spawnHub(dbFile, port);
    await pollUntil(() => rx.received.length > receivedAtKill, { timeoutMs: 60_000, what: 'webhooks after the restart' });
    for (const p of PROVIDER_IDS) em.emulator.injectFault(p, { kind: 'latency', count: 20, delayMs: 150 });
    await changeAndSeeASync(3, 'a sync in flight before the second kill');
    expect(plans.some((p) => p.steps.length > 0)).toBe(true);
    await kill(hub.proc, 'SIGKILL');
    advance();
    advance();

    // --- run 3: restart, make every remaining change, and let it converge ---
    hub = await spawnHub(dbFile, port);
    while (advance()) {
      // all remaining lifecycle steps, at once: the hub must end at the last one
    }
    expect(stepsDone).toBe(totalSteps);
    rx.delayMs = 0;

    const truthClient = createRefundClient({ config: em.config(), logger: silentLogger });
    const truth = new Map<string, string>();
    for (const p of plans) truth.set(`${p.provider}/${p.id}`, (await truthClient.getRefund(p.provider, p.id)).status);
    await truthClient.close();
    let held: any[] = [];
    // Bounded beyond the longest notification retry schedule (~115 s): until then a change is late, not lost.
    await pollUntil(async () => {
      const r = await call(`${hub.url}/v1/refunds?limit=500`, { key });
      held = r.body.data;
      return held.length === plans.length && held.every((x: any) => truth.get(`${x.provider}/${x.id}`) === x.status);
    }, { timeoutMs: 150_000, intervalMs: 250, what: 'every refund at the provider status' }).catch((e: Error) => {
      // Name the refunds left behind, with what the emulator could not deliver, so a failure can be diagnosed.
      const lagging = held.filter((x) => truth.get(`${x.provider}/${x.id}`) !== x.status).map((x) => ({ provider: x.provider, id: x.id, status: x.status, truth: truth.get(`${x.provider}/${x.id}`) }));
      throw new Error(`${e.message}: ${held.length} of ${plans.length} tracked, lagging ${JSON.stringify(lagging)}; notifications given up on: ${JSON.stringify(em.emulator.undelivered)}`);
    });
    await pollUntil(async () => (await metric(hub.url, 'refundhub_queue_depth{queue="pending_deliveries"}')) === 0, { timeoutMs: 60_000, what: 'outbox drained' });
    await kill(hub.proc, 'SIGTERM');

    // --- the file, read after the last process is gone ---
    const store = await createStore(`sqlite:${dbFile}`);
    try {
      const events = await store.db.selectFrom('events').selectAll().orderBy('provider').orderBy('refund_id').orderBy('sequence').execute();
      const history = await store.db.selectFrom('refund_history').selectAll().orderBy('id').execute();
      const refunds = await store.db.selectFrom('refunds').selectAll().execute();
      expect(refunds).toHaveLength(plans.length);
      expect(new Set(events.map((e) => e.id)).size).toBe(events.length);

      for (const r of refunds) {
        const k = `${r.provider}/${r.refund_id}`;
        expect(r.status, k).toBe(truth.get(k));
        const evs = events.filter((e) => e.provider === r.provider && e.refund_id === r.refund_id);
        // Sequences 1..n, no gap, no repeat; the row's counter agrees.
        expect(evs.map((e) => Number(e.sequence)), k).toEqual(evs.map((_, i) => i + 1));
        expect(Number(r.sequence), k).toBe(evs.length);
        // One event per status change in the history, same order, same statuses.
        const changes = history.filter((h) => h.provider === r.provider && h.refund_id === r.refund_id && h.kind !== 'anomaly');
        const payloads = evs.map((e) => JSON.parse(e.payload) as RefundEvent);
        expect(payloads.map((p) => [p.data.previousStatus, p.data.refund.status]), k).toEqual(changes.map((c) => [c.from_status, c.to_status]));
        // An unbroken chain: each change starts where the previous one ended (nothing lost, nothing applied twice).
        for (let i = 1; i < changes.length; i++) {
          if (changes[i]!.kind === 'stuck') continue;
          expect(changes[i]!.from_status, `${k} change ${i}`).toBe(changes[i - 1]!.to_status);
          // A change moves the status or, for the same status, the provider's word (never neither).
          const moved = changes[i]!.from_status !== changes[i]!.to_status || changes[i]!.provider_status !== changes[i - 1]!.provider_status;
          expect(moved, `${k} change ${i}`).toBe(true);
        }
        expect(changes[0]!.kind).toBe('tracked');
        expect(changes.at(-1)!.to_status).toBe(r.status);
      }
      expect(events.length).toBeGreaterThanOrEqual(plans.length * 2);

      // At least once: every event reached the receiver, verified, always with the same bytes;
      // nothing arrived that the store does not hold.
      const byId = new Map(events.map((e) => [e.id, e.payload]));
      const received = new Map<string, string>();
      for (const w of rx.received) {
        expect(w.valid).toBe(true);
        expect(byId.get(w.event.id), `unknown event ${w.event.id}`).toBe(w.raw);
        received.set(w.event.id, w.raw);
      }
      expect([...byId.keys()].filter((id) => !received.has(id))).toEqual([]);
      const deliveries = await store.db.selectFrom('deliveries').select(['status']).execute();
      expect(deliveries.every((d) => d.status === 'succeeded')).toBe(true);
      expect(deliveries).toHaveLength(events.length);
    } finally {
      await store.close();
    }
  }, 480_000); // three starts (START_TIMEOUT_MS each at worst) and the waits above; ~50 s on a loaded 2-core machine
});
