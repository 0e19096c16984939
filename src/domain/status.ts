import type { Logger } from '../logger.js';
import type { ProviderId, RefundStatus } from './refund.js';

/**
 * Maps a provider status word onto the unified status, case-insensitively. Unknown words map to
 * `unknown` and are logged once per provider and word, never thrown: providers add statuses
 * without notice and a refund we cannot classify must still be stored and tracked.
 */
export function createStatusMapper<K extends string>(
  provider: ProviderId,
  table: Readonly<Record<K, Exclude<RefundStatus, 'unknown'>>>,
): (raw: unknown, logger?: Logger) => RefundStatus {
  const lookup = new Map<string, RefundStatus>();
  for (const [word, status] of Object.entries(table) as [string, RefundStatus][]) lookup.set(word.toLowerCase(), status);
  const warned = new Set<string>();
  return (raw, logger) => {
    const word = typeof raw === 'string' ? raw.trim().toLowerCase() : '';
    const status = lookup.get(word);
    if (status) return status;
    const key = describeRaw(raw);
    if (!warned.has(key)) {
      warned.add(key);
      // The connector's logger already carries provider and account (client.ts binds them).
      logger?.warn({ providerStatus: raw }, `unrecognized ${provider} refund status "${key}"; mapped to unknown`);
    }
    return 'unknown';
  };
}

/** String(raw), except that it cannot throw (null-prototype objects, throwing toString). */
function describeRaw(raw: unknown): string {
  try {
    return String(raw);
  } catch {
    return Object.prototype.toString.call(raw);
  }
}
