import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRefundClient } from '../src/client.js';
import type { Logger } from '../src/logger.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';

/**
 * Connector warnings go through the real pino logger the client binds with provider and account:
 * each line names the provider once. pino writes a child's bindings and the call's own fields side
 * by side, so a field repeated in the call shows up twice in the JSON text.
 */

let em: RunningEmulator;
beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em.close();
});

describe('provider warnings', () => {
  it('carry provider and account exactly once (unknown status, negative amount)', async () => {
    const raw: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        raw.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const logger = pino({ level: 'warn', base: undefined }, sink) as unknown as Logger;
    const client = createRefundClient({ config: em.config(), logger, transport: { baseDelayMs: 1 } });
    try {
      const ziina = em.emulator.createRefund('ziina', { status: 'pending' });
      em.emulator.setStatus('ziina', String(ziina.id), 'teleported');
      expect(await client.getRefund('ziina', String(ziina.id))).toMatchObject({ status: 'unknown' });
      const stan = em.emulator.createRefund('stan', { amount: -2490, status: 'payment_success' });
      expect(await client.getRefund('stan', String(stan.refund_id))).toMatchObject({ amount: null });
    } finally {
      await client.close();
    }
    const lines = raw.filter((l) => /unrecognized ziina refund status|is negative/.test(l));
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line.match(/"provider":/g), line).toHaveLength(1);
      expect(line.match(/"account":/g), line).toHaveLength(1);
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ provider: 'ziina', account: 'default', providerStatus: 'teleported' });
    expect(JSON.parse(lines[1]!)).toMatchObject({ provider: 'stan', account: 'default', kind: 'money.negative' });
  });
});
