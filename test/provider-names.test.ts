import { join } from 'node:path';
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRefundClient, type RefundClient } from '../src/client.js';
import { isProviderId } from '../src/domain/refund.js';
import { silentLogger } from '../src/logger.js';
import { getProvider } from '../src/providers/registry.js';
import { buildApp } from '../src/server/app.js';
import { createApiKey } from '../src/server/auth.js';
import { createRefundHub, type RefundHub } from '../src/service.js';
import { tempDir } from './support/hub.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * Provider names are looked up in the registry from user input (URLs, bodies, CLI arguments).
 * Names that are members of every plain object (`__proto__`, `constructor`, ...) once reached
 * Object.prototype: HTTP 500 and CLI exit 1. Every name that is not a provider is bad input.
 */

const PROTOTYPE_NAMES = [...Object.getOwnPropertyNames(Object.prototype), 'prototype', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'CONSTRUCTOR', '__PROTO__'];
const names = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('ziina', 'Tazapay', 'GR4VY', ' stan', 'onekey '),
);
const isKnown = (name: string): boolean => isProviderId(name.toLowerCase());

let tmp: ReturnType<typeof tempDir>;
let hub: RefundHub;
let app: FastifyInstance;
let client: RefundClient;
let key: string;

beforeAll(async () => {
  tmp = tempDir();
  hub = await createRefundHub({ databaseUrl: `sqlite:${join(tmp.dir, 'names.db')}`, env: {}, logger: silentLogger });
  app = buildApp(hub, { logLevel: 'silent', notificationRateLimit: false });
  await app.ready();
  client = createRefundClient({ env: {}, logger: silentLogger });
  key = await createApiKey(hub.db, ['refunds:read', 'refunds:write'], 'names');
});

afterAll(async () => {
  await app?.close();
  await hub?.stop();
  await client?.close();
  tmp?.cleanup();
});

describe('provider names', () => {
  it('the registry refuses every name that is not a provider with invalid_input, and finds the five in any case', () => {
    fc.assert(
      fc.property(names, (name) => {
        if (isKnown(name)) {
          expect(getProvider(name).id).toBe(name.toLowerCase());
          return;
        }
        expect(() => getProvider(name)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
      }),
      { numRuns: 500 },
    );
    for (const name of PROTOTYPE_NAMES) expect(() => getProvider(name), name).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('client.validate refuses them with invalid_input (a well-formed id, so only the name can be wrong)', () => {
    fc.assert(
      fc.property(names, (name) => {
        if (isKnown(name.trim())) return;
        expect(() => client.validate(name, 'pi_123')).toThrow(expect.objectContaining({ code: 'invalid_input' }));
      }),
      { numRuns: 500 },
    );
  });

  it('every API route taking a provider answers 400 invalid_input, never 500', async () => {
    const auth = { authorization: `Bearer ${key}` };
    await fc.assert(
      fc.asyncProperty(names.filter((n) => n !== '' && !isKnown(n.trim())), async (name) => {
        const p = encodeURIComponent(name);
        // "." and ".." are dot-segments, left as they are by encodeURIComponent: in a path they name
        // another route (/v1/refunds/./abc is /v1/refunds/abc, a 404), so only body and query carry them.
        const inPath = name !== '.' && name !== '..';
        const answers = [
          await app.inject({ method: 'POST', url: '/v1/refunds', headers: auth, payload: { provider: name, id: 'abc' } }),
          ...(inPath
            ? [await app.inject({ method: 'GET', url: `/v1/refunds/${p}/abc`, headers: auth }), await app.inject({ method: 'GET', url: `/v1/refunds/${p}/abc/events`, headers: auth })]
            : []),
          await app.inject({ method: 'GET', url: `/v1/refunds?provider=${p}`, headers: auth }),
        ];
        for (const r of answers) {
          expect(r.statusCode, `${r.body} for ${JSON.stringify(name)}`).toBe(400);
          expect(r.json().error.code).toBe('invalid_input');
        }
        // The unauthenticated notification routes: refused as bad input, never a 500.
        for (const url of [`/v1/notifications/${p}`, `/v1/notifications/${p}/default`]) {
          const r = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{}' });
          expect(r.statusCode, `${url}: ${r.body}`).toBeGreaterThanOrEqual(400);
          expect(r.statusCode, `${url}: ${r.body}`).toBeLessThan(500);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('the CLI exits 2 invalid_input for them (built dist/)', async () => {
    const env = { REFUNDHUB_DATABASE_URL: `sqlite:${join(tmp.dir, 'cli.db')}` };
    const runs = [...['__proto__', 'constructor', 'toString', 'hasOwnProperty'].map((n) => ['get', n, 'abc']), ['track', '__proto__', 'abc'], ['history', 'constructor', 'abc']];
    for (const args of runs) {
      const r = await runCli(args, env);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain('unknown provider');
      expect(r.stderr).not.toMatch(/is not a function|\n\s+at /);
    }
  });
});
