import { loadConfig, type LoadedConfig } from '../../src/config/index.js';
import type { ProviderId } from '../../src/domain/refund.js';
import { PROVIDER_IDS } from '../../src/domain/refund.js';
import { createEmulator, type Emulator } from '../../src/emulator/index.js';
import type { RawSettings } from '../../src/providers/types.js';

export interface RunningEmulator {
  emulator: Emulator;
  url: string;
  /** Raw settings per provider that point at this emulator with the credentials it accepts. */
  settings: Record<ProviderId, RawSettings>;
  /** A LoadedConfig whose `default` accounts point at this emulator. */
  config(overrides?: Partial<Record<ProviderId, RawSettings>>): LoadedConfig;
  /** Drops pending faults over the control API (`DELETE /_emulator/faults`), keeping refunds; returns how many. */
  clearFaults(provider?: ProviderId): Promise<number>;
  close(): Promise<void>;
}

/** Starts the real emulator on 127.0.0.1 on a free port, with demo credentials (or the given ones). */
export async function startEmulator(
  options: { notifyUrl?: string; credentials?: Partial<Record<ProviderId, RawSettings>>; notificationRetryDelaysMs?: readonly number[] } = {},
): Promise<RunningEmulator> {
  const { emulator, credentials } = createEmulator({ env: {}, credentials: options.credentials, notifyUrl: options.notifyUrl, notificationRetryDelaysMs: options.notificationRetryDelaysMs });
  const url = await emulator.listen(0, '127.0.0.1');
  const settings = {} as Record<ProviderId, RawSettings>;
  for (const id of PROVIDER_IDS) settings[id] = { ...credentials[id], baseUrl: emulator.baseUrl(id) };
  return {
    emulator,
    url,
    settings,
    config(overrides = {}) {
      const config = loadConfig({ env: {} });
      for (const id of PROVIDER_IDS) config.accounts.get(id)!.set('default', { ...settings[id], ...overrides[id] });
      return config;
    },
    async clearFaults(provider) {
      const res = await fetch(`${url}/_emulator/${provider ? `${provider}/` : ''}faults`, { method: 'DELETE' });
      if (res.status !== 200) throw new Error(`clearing faults: HTTP ${res.status}`);
      return ((await res.json()) as { cleared: number }).cleared;
    },
    close: () => emulator.close(),
  };
}
