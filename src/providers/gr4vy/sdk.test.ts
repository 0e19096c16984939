import { Gr4vy, withToken } from '@gr4vy/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../test/support/emulator.js';
import { DEMO_GR4VY_PRIVATE_KEY } from './demo-key.js';

/**
 * The official `@gr4vy/sdk` against our emulator: its per-request ES512 tokens must verify and its
 * own Refund schema must parse what we serve (the benchmark compares the two on this emulator).
 */
let em: RunningEmulator;
beforeAll(async () => {
  em = await startEmulator();
});
afterAll(async () => {
  await em.close();
});

describe('official @gr4vy/sdk against the gr4vy emulator', () => {
  it('reads a refund and maps a 404 to its Error404', async () => {
    const created = em.emulator.createRefund('gr4vy', { status: 'declined', amount: 829, currency: 'EUR' });
    const sdk = new Gr4vy({ serverURL: `${em.url}/gr4vy`, merchantAccountId: 'default', bearerAuth: withToken({ privateKey: DEMO_GR4VY_PRIVATE_KEY }) });
    const got = await sdk.refunds.get(String(created.id));
    expect(got).toMatchObject({ id: created.id, transactionId: created.transaction_id, status: 'declined', amount: 829, currency: 'EUR', errorCode: 'refund_declined' });
    expect(got.createdAt).toBeInstanceOf(Date);
    let name = '';
    try {
      await sdk.refunds.get('00000000-0000-4000-8000-000000000000');
    } catch (e) {
      name = (e as Error).constructor.name;
    }
    expect(name).toBe('Error404');
    const log = em.emulator.requests('gr4vy');
    expect(log.at(-1)!.headers.authorization).toBe('Bearer ****');
    expect(log.at(-1)!.headers['x-gr4vy-merchant-account-id']).toBe('default');
  });
});
