import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { ProviderId } from '../../src/domain/refund.js';
import { getProvider } from '../../src/providers/registry.js';
import type { NativeRefund, RawSettings } from '../../src/providers/types.js';
import { startEmulator } from '../../test/support/emulator.js';

/**
 * The emulator as the benchmarks see it: a URL, the raw settings per provider that point at it,
 * and its control API. By default it runs in a child process: on a 2-core machine that gives the
 * emulator's request handling (HTTP parsing, auth checks, JSON) its own core and its own event
 * loop, so the client being measured does not pay for the server's CPU in its own loop, and a
 * slow side of a comparison cannot be flattered or penalized by work the server does between its
 * calls. `in-process` is kept for comparison and debugging.
 */
export interface BenchEmulator {
  url: string;
  mode: 'child' | 'in-process';
  settings: Record<ProviderId, RawSettings>;
  /** Creates a refund through the control API (`POST /_emulator/{provider}/refunds`); returns its id. */
  createRefund(provider: ProviderId, refund?: NativeRefund): Promise<string>;
  close(): Promise<void>;
}

const STARTUP_TIMEOUT_MS = 30_000;

interface ReadyMessage {
  type: 'ready';
  url: string;
  settings: Record<ProviderId, RawSettings>;
}

function isReady(m: unknown): m is ReadyMessage {
  return !!m && typeof m === 'object' && (m as { type?: unknown }).type === 'ready';
}

async function startChild(): Promise<{ url: string; settings: Record<ProviderId, RawSettings>; close: () => Promise<void> }> {
  const entry = fileURLToPath(new URL('./emulator-child.ts', import.meta.url));
  const child = fork(entry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = await new Promise<ReadyMessage>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`emulator child did not start within ${STARTUP_TIMEOUT_MS} ms`)), STARTUP_TIMEOUT_MS);
    child.once('message', (m) => {
      clearTimeout(timer);
      if (isReady(m)) resolve(m);
      else reject(new Error('emulator child sent an unexpected first message'));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`emulator child exited early (code ${code})`));
    });
  }).catch((e: unknown) => {
    if (child.exitCode === null) child.kill();
    throw e;
  });
  return {
    url: ready.url,
    settings: ready.settings,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.send('stop');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

export async function startBenchEmulator(mode: 'child' | 'in-process'): Promise<BenchEmulator> {
  const base =
    mode === 'child'
      ? await startChild()
      : await startEmulator().then((e) => ({ url: e.url, settings: e.settings, close: () => e.close() }));
  return {
    mode,
    url: base.url,
    settings: base.settings,
    async createRefund(provider, refund = {}) {
      const res = await request(`${base.url}/_emulator/${provider}/refunds`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refund }),
      });
      const body = (await res.body.json()) as { refund?: NativeRefund; error?: string };
      if (res.statusCode !== 201 || !body.refund) throw new Error(`emulator refused to create a ${provider} refund: HTTP ${res.statusCode} ${body.error ?? ''}`);
      return getProvider(provider).emulator.idOf(body.refund);
    },
    close: base.close,
  };
}
