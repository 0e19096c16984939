import type { Clock } from '../clock.js';
import type { ProviderId } from '../domain/refund.js';
import { PROVIDER_IDS } from '../domain/refund.js';
import type { Logger } from '../logger.js';
import { getProvider } from '../providers/registry.js';
import type { RawSettings } from '../providers/types.js';
import { Emulator } from './server.js';

export { Emulator } from './server.js';
export type { Fault, FaultKind, LifecycleStep, RecordedRequest, RequestListener } from './server.js';

/**
 * The credentials each emulated provider accepts: the REFUNDHUB_* variables when a provider is
 * configured there, its demo credentials otherwise. `usedDemo` lists the providers on demo
 * credentials, so `refundhub emulate` can print the matching `export` lines.
 */
export function emulatorCredentials(env: Record<string, string | undefined>): { raw: Record<ProviderId, RawSettings>; usedDemo: ProviderId[] } {
  const raw = {} as Record<ProviderId, RawSettings>;
  const usedDemo: ProviderId[] = [];
  for (const id of PROVIDER_IDS) {
    const p = getProvider(id);
    const fromEnv = p.config.fromEnv(env);
    if (p.config.isConfigured(fromEnv)) raw[id] = fromEnv;
    else {
      raw[id] = { ...p.demoSettings(), ...pick(fromEnv, ['webhookSecret', 'currency']) };
      usedDemo.push(id);
    }
  }
  return { raw, usedDemo };
}

function pick(o: RawSettings, keys: string[]): RawSettings {
  return Object.fromEntries(Object.entries(o).filter(([k]) => keys.includes(k)));
}

export interface CreateEmulatorOptions {
  env?: Record<string, string | undefined>;
  /** Raw settings per provider; overrides what `env` gives. */
  credentials?: Partial<Record<ProviderId, RawSettings>>;
  notifyUrl?: string;
  clock?: Clock;
  logger?: Logger;
  /** Requests kept per provider in the control API's log (default 200). */
  requestLogSize?: number;
  /** Fixed delay on every provider request, ms (benchmarks). */
  latencyMs?: number;
  /** Waits between a notification's attempts (default NOTIFICATION_RETRY_DELAYS_MS, about 25 s in all). */
  notificationRetryDelaysMs?: readonly number[];
}

/** Builds an emulator whose providers accept the given (or env, or demo) credentials. Call `listen()` next. */
export function createEmulator(options: CreateEmulatorOptions = {}): { emulator: Emulator; credentials: Record<ProviderId, RawSettings>; usedDemo: ProviderId[] } {
  const { raw, usedDemo } = emulatorCredentials(options.env ?? process.env);
  const credentials = { ...raw, ...options.credentials } as Record<ProviderId, RawSettings>;
  const settings = {} as Record<ProviderId, unknown>;
  for (const id of PROVIDER_IDS) {
    // The emulator never calls out, so the base URL is irrelevant to it; any valid one satisfies resolve().
    settings[id] = getProvider(id).config.resolve({ baseUrl: 'http://127.0.0.1', ...credentials[id] });
  }
  const emulator = new Emulator({ settings: settings as Record<ProviderId, unknown>, notifyUrl: options.notifyUrl, clock: options.clock, logger: options.logger, requestLogSize: options.requestLogSize, latencyMs: options.latencyMs, notificationRetryDelaysMs: options.notificationRetryDelaysMs });
  return { emulator, credentials, usedDemo: usedDemo.filter((id) => !options.credentials?.[id]) };
}
