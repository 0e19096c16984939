import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../test/support/emulator.js';
import { pollUntil } from '../../test/support/wait.js';

/**
 * The emulator posts notifications as providers do: a receiver that refuses (5xx, 429) or is not
 * there yet is tried again on a schedule, and one given up on is recorded, so a test can tell a
 * notification that never arrived from one that was mishandled. Closing stops the retries at once.
 */

let em: RunningEmulator | undefined;
let receiver: Server | undefined;
const receivers: Server[] = [];

afterEach(async () => {
  await em?.close();
  em = undefined;
  for (const r of receivers.splice(0)) if (r.listening) await new Promise<void>((done) => r.close(() => done()));
  receiver = undefined;
});

/** A receiver answering each POST with the next status of `answers` (the last one repeats). */
async function startReceiver(answers: number[]): Promise<{ url: string; hits: () => number }> {
  let hits = 0;
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = answers[Math.min(hits, answers.length - 1)]!;
      hits++;
      res.end();
    });
  });
  receivers.push(receiver);
  await new Promise<void>((r) => receiver!.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`, hits: () => hits };
}

describe('notification retries', () => {
  it('a receiver that refuses twice gets the notification on the third attempt', async () => {
    const rx = await startReceiver([503, 429, 200]);
    em = await startEmulator({ notifyUrl: rx.url, notificationRetryDelaysMs: [10, 10, 10] });
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    em.emulator.setStatus('ziina', id, 'completed');
    await em.emulator.drainNotifications();
    expect(rx.hits()).toBe(3);
    expect(em.emulator.undelivered).toEqual([]);
  });

  it('OneKey retries until it gets exactly 200 (a 202 is not delivered); Ziina takes any 2xx', async () => {
    const rx = await startReceiver([202, 200]);
    em = await startEmulator({ notifyUrl: rx.url, notificationRetryDelaysMs: [10, 10, 10] });
    const onekey = String(em.emulator.createRefund('onekey', { status: 'PENDING' }).refund_id);
    em.emulator.setStatus('onekey', onekey, 'COMPLETED');
    await em.emulator.drainNotifications();
    expect(rx.hits()).toBe(2);
    const ziinaRx = await startReceiver([202]);
    em.emulator.notifyUrl = ziinaRx.url;
    const ziina = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    em.emulator.setStatus('ziina', ziina, 'completed');
    await em.emulator.drainNotifications();
    expect(ziinaRx.hits()).toBe(1);
    expect(em.emulator.undelivered).toEqual([]);
  });

  it('one refused on every attempt is given up on and recorded with the last answer', async () => {
    const rx = await startReceiver([503]);
    em = await startEmulator({ notifyUrl: rx.url, notificationRetryDelaysMs: [5, 5] });
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    em.emulator.setStatus('ziina', id, 'completed');
    await em.emulator.drainNotifications();
    expect(rx.hits()).toBe(3);
    expect(em.emulator.undelivered).toEqual([{ provider: 'ziina', url: `${rx.url}/ziina`, attempts: 3, lastError: 'HTTP 503', at: expect.any(Number) }]);
    em.emulator.reset();
    expect(em.emulator.undelivered).toEqual([]);
  });

  it('a receiver that is not listening: each attempt fails to connect, and the error is recorded', async () => {
    // A port that was free a moment ago and is closed now.
    const probe = await startReceiver([200]);
    await new Promise<void>((r) => receiver!.close(() => r()));
    receiver = undefined;
    em = await startEmulator({ notifyUrl: probe.url, notificationRetryDelaysMs: [5, 5, 5] });
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    em.emulator.setStatus('ziina', id, 'completed');
    await em.emulator.drainNotifications();
    expect(em.emulator.undelivered).toEqual([{ provider: 'ziina', url: `${probe.url}/ziina`, attempts: 4, lastError: expect.stringMatching(/ECONNREFUSED|connect/), at: expect.any(Number) }]);
  });

  it('close() ends a long retry wait at once, and drainNotifications({ retry: false }) too', async () => {
    const rx = await startReceiver([503]);
    em = await startEmulator({ notifyUrl: rx.url, notificationRetryDelaysMs: [60_000] });
    const id = String(em.emulator.createRefund('ziina', { status: 'pending' }).id);
    em.emulator.setStatus('ziina', id, 'completed');
    await pollUntil(() => rx.hits() === 1, { timeoutMs: 10_000, what: 'the first attempt' });
    // Bounded by the test's timeout, not by the 60 s wait.
    await em.emulator.drainNotifications({ retry: false });
    // Stopped, not given up after a spent schedule: not recorded.
    expect(em.emulator.undelivered).toEqual([]);
    em.emulator.setStatus('ziina', id, 'failed');
    await pollUntil(() => rx.hits() === 2, { timeoutMs: 10_000, what: 'the second notification' });
    await em.close();
    em = undefined;
    expect(rx.hits()).toBe(2);
  }, 20_000);
});
