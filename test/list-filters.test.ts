import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startEmulator, type RunningEmulator } from './support/emulator.js';
import { call, startHub, tempDir, type RunningHub } from './support/hub.js';
import { CLI_TEST_TIMEOUT_MS, runCli } from './support/run-cli.js';

// Tests here start bin/refundhub: seconds apiece on a loaded machine (see CLI_TEST_TIMEOUT_MS).
vi.setConfig({ testTimeout: CLI_TEST_TIMEOUT_MS, hookTimeout: CLI_TEST_TIMEOUT_MS });

/**
 * `GET /v1/refunds` and `refundhub list` on one store: the same filter values are accepted by
 * both, with the same results, and refused by both with the same words. CLI runs use dist/.
 */

let tmp: ReturnType<typeof tempDir>;
let em: RunningEmulator;
let h: RunningHub;
let reader: string;
const ids: Record<'jan30' | 'jan31late' | 'feb1', string> = { jan30: '', jan31late: '', feb1: '' };

const CREATED = { jan30: '2026-01-30T12:00:00Z', jan31late: '2026-01-31T23:30:00Z', feb1: '2026-02-01T00:00:00Z' };
const FLAGS: Record<string, string> = { createdFrom: '--created-from', createdTo: '--created-to', limit: '--limit', provider: '--provider', status: '--status', account: '--account', cursor: '--cursor' };

beforeAll(async () => {
  tmp = tempDir();
  em = await startEmulator();
  h = await startHub(em, join(tmp.dir, 'list.db'));
  em.emulator.notifyUrl = undefined;
  reader = await h.key(['refunds:read']);
  const writer = await h.key(['refunds:write']);
  for (const [name, at] of Object.entries(CREATED) as Array<[keyof typeof ids, string]>) {
    const r = em.emulator.createRefund('ziina', { created_at: String(Date.parse(at)) });
    ids[name] = String(r.id);
    expect((await call(`${h.url}/v1/refunds`, { key: writer, json: { provider: 'ziina', id: ids[name] } })).status).toBe(201);
  }
});

afterAll(async () => {
  await h?.close();
  await em?.close();
  tmp?.cleanup();
});

const cli = (args: string[]) => runCli(['list', ...args], { REFUNDHUB_DATABASE_URL: `sqlite:${h.dbFile}` });
const apiList = (params: Record<string, string>) => call(`${h.url}/v1/refunds?${new URLSearchParams(params)}`, { key: reader });
const cliArgs = (params: Record<string, string>) => Object.entries(params).flatMap(([k, v]) => [FLAGS[k]!, v]);
const named = (list: Array<{ id: string }>) => list.map((r) => (Object.keys(ids) as Array<keyof typeof ids>).find((k) => ids[k] === r.id)).sort();

describe('list filters: one parser for the API and the CLI', () => {
  it('a date is accepted by both; as createdTo it covers the whole day', async () => {
    const cases: Array<[Record<string, string>, string[]]> = [
      [{ createdFrom: '2026-01-31' }, ['feb1', 'jan31late']],
      [{ createdTo: '2026-01-31' }, ['jan30', 'jan31late']],
      [{ createdFrom: '2026-01-31', createdTo: '2026-01-31' }, ['jan31late']],
      [{ createdFrom: '2026-01-31T23:30:00Z', createdTo: '2026-02-01T04:00:00+04:00' }, ['feb1', 'jan31late']],
      [{ createdTo: '2026-01-31 23:29' }, ['jan30']],
    ];
    for (const [params, expected] of cases) {
      const api = await apiList(params);
      expect(api.status, `${JSON.stringify(params)}: ${api.text}`).toBe(200);
      expect(named(api.body.data), JSON.stringify(params)).toEqual(expected);
      const run = await cli(['--json', ...cliArgs(params)]);
      expect(run.code, run.stderr).toBe(0);
      expect(named(JSON.parse(run.stdout).data), JSON.stringify(params)).toEqual(expected);
    }
  });

  it('bad values are refused by both with the same message (the parameter named as each names it)', async () => {
    const bad: Array<Record<string, string>> = [
      { createdFrom: 'yesterday' },
      { createdTo: '2026-02-30' },
      { createdFrom: '2026-01-01T25:00:00Z' },
      { limit: '0' },
      { limit: '501' },
      { limit: '2x' },
      { provider: '__proto__' },
      { status: 'done' },
      { account: 'a b' },
      { cursor: 'garbage' },
    ];
    for (const params of bad) {
      const api = await apiList(params);
      expect(api.status, `${JSON.stringify(params)}: ${api.text}`).toBe(400);
      expect(api.body.error.code).toBe('invalid_input');
      const run = await cli(cliArgs(params));
      expect(run.code, JSON.stringify(params)).toBe(2);
      const [name] = Object.keys(params) as [string];
      const apiMessage = String(api.body.error.message);
      // The cursor is checked by the store, the same way for both, in the same words.
      const cliMessage = name !== 'cursor' && apiMessage.startsWith(`${name} `) ? `${FLAGS[name]!}${apiMessage.slice(name.length)}` : apiMessage;
      expect(run.stderr, JSON.stringify(params)).toBe(`refundhub: error: ${cliMessage} [invalid_input]\n`);
    }
  });
});
