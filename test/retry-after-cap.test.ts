import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RefundHubError } from '../src/errors.js';
import { silentLogger } from '../src/logger.js';
import { createRefundHub, maxRetryAfterFromEnv } from '../src/service.js';
import { createTransport, DEFAULT_MAX_RETRY_AFTER_MS, parseRetryAfter } from '../src/transport/http.js';
import { cleanupTempDatabases, tempDatabaseUrl } from './support/db.js';
import { rejectionOf } from './support/errors.js';
import { startEmulator, type RunningEmulator } from './support/emulator.js';

/**
 * A provider's Retry-After is believed up to a cap (default one hour, REFUNDHUB_MAX_RETRY_AFTER):
 * `Retry-After: 3000000000` must neither park a refund until 2121 nor pause a provider for ever.
 * Real emulator answering 429 over HTTP.
 */

let emu: RunningEmulator;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
  cleanupTempDatabases();
});

async function rateLimitedError(options: Parameters<typeof createTransport>[0], retryAfterS: number): Promise<RefundHubError> {
  const transport = createTransport({ maxAttempts: 1, ...options });
  emu.emulator.injectFault('ziina', { kind: 'rate_limit', retryAfterS, count: 1 });
  try {
    return (await rejectionOf(transport.getJson({ provider: 'ziina', method: 'GET', url: `${emu.emulator.baseUrl('ziina')}/refund/x`, headers: () => ({}) }))) as RefundHubError;
  } finally {
    await transport.close();
  }
}

describe('Retry-After cap', () => {
  it('the transport caps what every consumer sees: default one hour, or the configured cap', async () => {
    const huge = await rateLimitedError({}, 3_000_000_000);
    expect(huge.code).toBe('rate_limited');
    expect(huge.retryAfterMs).toBe(DEFAULT_MAX_RETRY_AFTER_MS);
    expect(huge.message).toMatch(/retry after 3600 s/);
    const capped = await rateLimitedError({ maxRetryAfterMs: 90_000 }, 3_000_000_000);
    expect(capped.retryAfterMs).toBe(90_000);
    // Below the cap it is what the provider said.
    expect((await rateLimitedError({ maxRetryAfterMs: 90_000 }, 30)).retryAfterMs).toBe(30_000);
  });

  it('caps HTTP dates far in the future too', () => {
    const now = Date.parse('2026-01-01T12:00:00Z');
    expect(parseRetryAfter('Thu, 01 Jan 2121 12:00:00 GMT', now)).toBe(DEFAULT_MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('Thu, 01 Jan 2121 12:00:00 GMT', now, 5000)).toBe(5000);
  });

  it('REFUNDHUB_MAX_RETRY_AFTER (seconds) sets the cap where the service is composed; a bad value is a configuration error', async () => {
    expect(maxRetryAfterFromEnv({})).toBe(DEFAULT_MAX_RETRY_AFTER_MS);
    expect(maxRetryAfterFromEnv({ REFUNDHUB_MAX_RETRY_AFTER: '120' })).toBe(120_000);
    for (const bad of ['0', '-5', '1.5', 'soon', '99999999999']) {
      const err = (await rejectionOf(Promise.resolve().then(() => maxRetryAfterFromEnv({ REFUNDHUB_MAX_RETRY_AFTER: bad })))) as RefundHubError;
      expect(err.code, bad).toBe('not_configured');
      expect(err.message).toMatch(/REFUNDHUB_MAX_RETRY_AFTER/);
    }
    const hub = await createRefundHub({ databaseUrl: tempDatabaseUrl(), config: emu.config(), env: { REFUNDHUB_MAX_RETRY_AFTER: '120' }, logger: silentLogger, transport: { maxAttempts: 1 } });
    try {
      emu.emulator.injectFault('ziina', { kind: 'rate_limit', retryAfterS: 3_000_000_000, count: 1 });
      const err = (await rejectionOf(hub.client.getRefund('ziina', 'f9a1c6a0-2b1e-4d3b-9b8a-2f1c3d4e5f60'))) as RefundHubError;
      expect(err.code).toBe('rate_limited');
      expect(err.retryAfterMs).toBe(120_000);
    } finally {
      await hub.stop();
    }
  });
});
