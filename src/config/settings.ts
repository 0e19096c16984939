import { RefundHubError } from '../errors.js';

/**
 * A duration setting read from the environment, in whole seconds (1 to 99999), as milliseconds;
 * undefined when unset or empty. Anything else is `not_configured`, naming the variable.
 */
export function secondsSetting(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1) throw new RefundHubError('not_configured', `${name} must be a whole number of seconds from 1 to 99999, not "${raw.slice(0, 32)}"`);
  return Number(raw) * 1000;
}

/**
 * A count setting (pool sizes) read from the environment, a whole number from 1 to 1000;
 * undefined when unset or empty. Anything else is `not_configured`, naming the variable.
 */
export function countSetting(env: Record<string, string | undefined>, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,4}$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) throw new RefundHubError('not_configured', `${name} must be a whole number from 1 to 1000, not "${raw.slice(0, 32)}"`);
  return Number(raw);
}
