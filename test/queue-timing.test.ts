import { describe, expect, it } from 'vitest';
import { queueTimingFromEnv } from '../src/service.js';
import { worstCaseSendMs } from '../src/transport/http.js';

/**
 * Job leases and the maintenance interval are settings (a SIGKILLed worker's jobs are taken over
 * after lease + maintenance; it was a fixed 120 s + 30 s), and a lease too short for one provider
 * call at its worst is refused with a config error rather than running live jobs twice.
 */
describe('queue timing settings', () => {
  const worst = worstCaseSendMs(); // 45 s with the transport's defaults: floor 50 s

  it('reads the sync and delivery leases and the maintenance interval in seconds', () => {
    expect(queueTimingFromEnv({}, worst)).toEqual({});
    expect(queueTimingFromEnv({ REFUNDHUB_SYNC_LEASE: '50', REFUNDHUB_DELIVERY_LEASE: '60', REFUNDHUB_QUEUE_MAINTENANCE_INTERVAL: '2' }, worst)).toEqual({
      syncExpireInSeconds: 50,
      deliverExpireInSeconds: 60,
      maintenanceIntervalSeconds: 2,
    });
  });

  it('refuses a lease shorter than one provider call at its worst plus headroom, naming the floor', () => {
    expect(() => queueTimingFromEnv({ REFUNDHUB_SYNC_LEASE: '49' }, worst)).toThrow('REFUNDHUB_SYNC_LEASE must be at least 50 seconds');
    expect(() => queueTimingFromEnv({ REFUNDHUB_DELIVERY_LEASE: '5' }, worst)).toThrow(/REFUNDHUB_DELIVERY_LEASE must be at least 50 seconds/);
    // Shorter transport timeouts lower the floor.
    expect(queueTimingFromEnv({ REFUNDHUB_SYNC_LEASE: '10' }, worstCaseSendMs({ timeoutMs: 1000, maxAttempts: 2, maxDelayMs: 1000 }))).toEqual({ syncExpireInSeconds: 10 });
    expect(() => queueTimingFromEnv({ REFUNDHUB_QUEUE_MAINTENANCE_INTERVAL: 'soon' }, worst)).toThrow(/REFUNDHUB_QUEUE_MAINTENANCE_INTERVAL must be a whole number of seconds/);
  });
});
