import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRefundClient, type RefundClient } from '../../src/client.js';
import type { ProviderId } from '../../src/domain/refund.js';
import type { RefundHubError } from '../../src/errors.js';
import { silentLogger } from '../../src/logger.js';
import type { RawSettings } from '../../src/providers/types.js';
import type { TransportOptions } from '../../src/transport/http.js';
import { startEmulator, type RunningEmulator } from './emulator.js';
import { rejectionOf } from './errors.js';
import { startRewritingProxy } from './rewriting-proxy.js';

export interface RejectedCredentials {
  /** Settings overrides the emulator refuses. */
  overrides: RawSettings;
  /** The exact error message expected, when the provider names the failed check. */
  message?: string;
}

export interface ConnectorConformanceOptions {
  /** Creates a refund in the emulator and returns its id. */
  create(em: RunningEmulator, fields?: Record<string, unknown>): string;
  /** Fields that make a created refund read as `succeeded`. */
  succeededFields: Record<string, unknown>;
  /** Ids the connector must reject as invalid_input before sending anything. */
  malformedIds: readonly string[];
  /** A well-formed id that no refund has. */
  unknownId: string;
  /** Text the not_found message must contain, if the provider names its error. */
  notFoundMessage?: string;
  /** Credential overrides the emulator rejects with 401. */
  rejectedCredentials: readonly RejectedCredentials[];
  /** The auth scheme word shown, masked, in the request log: 'Bearer', 'Basic', 'D24'. */
  authScheme: string;
  /** The path the emulator sees for a refund id. */
  path(id: string): string;
  /** Secret values that must never appear in error messages or the request log. */
  secrets: readonly string[];
  /** Settings overrides applied to every client of the suite. */
  overrides?: RawSettings;
  /** Sets the refund id in a native 2xx body, as the provider would name it (OneKey's status body names none: it adds `refund_id`). */
  withResponseId(body: unknown, id: string | number): unknown;
  /** The same refund id as the provider may spell it back (a UUID in upper case, OneKey's integer as a number). */
  sameIdForms(id: string): Array<string | number>;
}

/** Registers the transport and fault scenarios every connector must pass against the real emulator. */
export function describeConnectorConformance(provider: ProviderId, options: ConnectorConformanceOptions): void {
  describe(`${provider} connector conformance (transport and faults)`, () => {
    let em: RunningEmulator;
    const clients: RefundClient[] = [];

    function client(overrides: RawSettings = {}, transport: TransportOptions = {}): RefundClient {
      const c = createRefundClient({
        config: em.config({ [provider]: { ...options.overrides, ...overrides } }),
        logger: silentLogger,
        transport: { baseDelayMs: 1, ...transport },
      });
      clients.push(c);
      return c;
    }
    const create = (fields: Record<string, unknown> = {}): string => options.create(em, fields);
    const requests = () => em.emulator.requests(provider);
    async function failure(p: Promise<unknown>, code: string): Promise<RefundHubError> {
      const e = await rejectionOf(p);
      expect(e.code).toBe(code);
      expect(e.provider).toBe(provider);
      for (const secret of options.secrets) expect(e.message).not.toContain(secret);
      return e;
    }

    beforeAll(async () => {
      em = await startEmulator();
    });
    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      em.emulator.reset();
    });
    afterAll(async () => {
      await em.close();
    });

    it('sends a GET to the documented path with the auth header masked in the request log', async () => {
      const id = create();
      await client().getRefund(provider, id);
      const log = requests();
      expect(log).toHaveLength(1);
      expect(log[0]!.method).toBe('GET');
      expect(log[0]!.path).toBe(options.path(id));
      expect(log[0]!.headers.authorization).toBe(`${options.authScheme} ****`);
      for (const secret of options.secrets) expect(JSON.stringify(log)).not.toContain(secret);
    });

    it.each([502, 503])('retries %i and then succeeds', async (status) => {
      const id = create(options.succeededFields);
      em.emulator.injectFault(provider, { kind: 'error', status, count: 2 });
      const r = await client().getRefund(provider, id);
      expect(r.id).toBe(id);
      expect(r.status).toBe('succeeded');
      expect(requests()).toHaveLength(3);
    });

    it('gives up after 3 attempts of persistent 5xx with provider_error', async () => {
      const id = create();
      em.emulator.injectFault(provider, { kind: 'error', status: 500, count: 5 });
      const e = await failure(client().getRefund(provider, id), 'provider_error');
      expect(e.httpStatus).toBe(500);
      expect(e.retryable).toBe(true);
      expect(requests()).toHaveLength(3);
    });

    it('honours Retry-After on 429, then succeeds', async () => {
      const id = create(options.succeededFields);
      em.emulator.injectFault(provider, { kind: 'rate_limit', count: 1, retryAfterS: 1 });
      const started = Date.now();
      const r = await client().getRefund(provider, id);
      // baseDelayMs is 1 ms, so only Retry-After can explain a wait of about a second.
      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(r.id).toBe(id);
      expect(r.status).toBe('succeeded');
      const log = requests();
      expect(log).toHaveLength(2);
      expect(Date.parse(log[1]!.time) - Date.parse(log[0]!.time)).toBeGreaterThanOrEqual(950);
    });

    it('surfaces a Retry-After beyond the transport limit as rate_limited with the wait, without waiting', async () => {
      const c = client();
      let sent = 0;
      for (const retryAfterS of [30, 60, 120]) {
        const id = create();
        em.emulator.injectFault(provider, { kind: 'rate_limit', count: 1, retryAfterS });
        const e = await failure(c.getRefund(provider, id), 'rate_limited');
        expect(e.httpStatus).toBe(429);
        expect(e.retryAfterMs).toBe(retryAfterS * 1000);
        sent += 1;
        expect(requests()).toHaveLength(sent);
      }
    });

    it('surfaces persistent 429 as rate_limited with the wait', async () => {
      const id = create();
      em.emulator.injectFault(provider, { kind: 'rate_limit', count: 3, retryAfterS: 0 });
      const e = await failure(client().getRefund(provider, id), 'rate_limited');
      expect(e.httpStatus).toBe(429);
      expect(e.retryAfterMs).toBe(0);
      expect(requests()).toHaveLength(3);
    });

    it('retries a connection reset', async () => {
      const id = create(options.succeededFields);
      em.emulator.injectFault(provider, { kind: 'reset', count: 1 });
      const r = await client().getRefund(provider, id);
      expect(r.id).toBe(id);
      expect(r.status).toBe('succeeded');
      expect(requests()).toHaveLength(2);
    });

    it('maps malformed JSON to invalid_response, not retried', async () => {
      const id = create();
      em.emulator.injectFault(provider, { kind: 'malformed', count: 1 });
      await failure(client().getRefund(provider, id), 'invalid_response');
      expect(requests()).toHaveLength(1);
    });

    it('maps latency beyond the timeout to provider_error after every attempt', async () => {
      const id = create();
      em.emulator.injectFault(provider, { kind: 'latency', count: 3, delayMs: 1000 });
      const started = performance.now();
      const e = await failure(client({}, { timeoutMs: 200 }).getRefund(provider, id), 'provider_error');
      expect(e.message).toMatch(/timed out/);
      expect(performance.now() - started).toBeLessThan(2000);
      expect(requests()).toHaveLength(3);
    });

    it('rejects a response about another refund with invalid_response, and accepts the provider\'s other spellings of the same id', async () => {
      const id = create();
      const proxy = await startRewritingProxy(em.url);
      try {
        const baseUrl = proxy.base(em.emulator.baseUrl(provider));
        proxy.rewrite((body) => options.withResponseId(body, options.unknownId));
        const e = await failure(client({ baseUrl }).getRefund(provider, id), 'invalid_response');
        expect(e.message).toBe(`${provider}: response is for a different refund id than requested`);
        for (const same of options.sameIdForms(id)) {
          proxy.rewrite((body) => options.withResponseId(body, same));
          const r = await client({ baseUrl }).getRefund(provider, id);
          // The refund is reported under the id as asked for, whatever spelling came back.
          expect(r.id, String(same)).toBe(id);
        }
      } finally {
        await proxy.close();
      }
    });

    it.each(options.malformedIds.map((id) => [id]))('rejects the malformed id %j before any request', async (bad) => {
      await failure(client().getRefund(provider, bad), 'invalid_input');
      expect(requests()).toHaveLength(0);
    });

    it('maps 404 to not_found, not retried', async () => {
      const e = await failure(client().getRefund(provider, options.unknownId), 'not_found');
      expect(e.httpStatus).toBe(404);
      if (options.notFoundMessage !== undefined) expect(e.message).toContain(options.notFoundMessage);
      expect(requests()).toHaveLength(1);
    });

    it.each(options.rejectedCredentials.map((c, i) => [i + 1, c] as const))(
      'maps rejected credentials #%i to authentication_failed, not retried, without echoing them',
      async (_n, { overrides, message }) => {
        const id = create();
        const e = await failure(client(overrides).getRefund(provider, id), 'authentication_failed');
        expect(e.httpStatus).toBe(401);
        expect(e.retryable).toBe(false);
        if (message !== undefined) expect(e.message).toBe(message);
        for (const value of Object.values(overrides)) {
          if (typeof value === 'string' && value.length > 4) expect(e.message).not.toContain(value);
        }
        expect(requests()).toHaveLength(1);
      },
    );
  });
}
