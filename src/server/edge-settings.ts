import { isIP } from 'node:net';
import { RefundHubError } from '../errors.js';

/** The per-client budget of the unauthenticated notification routes (a token bucket). */
export interface NotificationRateLimit {
  perSecond: number;
  burst: number;
}

/**
 * 20 notifications a second per client address, 200 at once: about 1.7 million a day from one
 * provider address, far above what it sends a merchant, while a flood of forged unsigned bodies
 * (Stan, OneKey) costs us a bounded number of rows and provider calls. A provider that is refused
 * retries later (hours, as their notes say), so a burst beyond it is delayed, not lost.
 */
export const DEFAULT_NOTIFICATION_RATE_LIMIT: NotificationRateLimit = { perSecond: 20, burst: 200 };

/**
 * REFUNDHUB_NOTIFICATION_RATE_LIMIT: `off`, `N` (N a second, a burst of 10 N) or `N/B` (N a second,
 * a burst of B), whole numbers from 1 to 100000. Unset: DEFAULT_NOTIFICATION_RATE_LIMIT. Anything
 * else is `not_configured`, naming the variable, so a typo never silently lifts the limit.
 */
export function notificationRateLimitFromEnv(env: Record<string, string | undefined> = process.env): NotificationRateLimit | false {
  const name = 'REFUNDHUB_NOTIFICATION_RATE_LIMIT';
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return DEFAULT_NOTIFICATION_RATE_LIMIT;
  if (raw.toLowerCase() === 'off') return false;
  const m = /^(\d{1,6})(?:\/(\d{1,7}))?$/.exec(raw);
  const perSecond = m ? Number(m[1]) : NaN;
  const burst = m?.[2] !== undefined ? Number(m[2]) : perSecond * 10;
  if (!(perSecond >= 1 && perSecond <= 100_000 && burst >= 1 && burst <= 1_000_000)) {
    throw new RefundHubError('not_configured', `${name} must be "off", "N" or "N/BURST" (notifications a second per client address, 1-100000; burst 1-1000000), not "${raw.slice(0, 32)}"`);
  }
  return { perSecond, burst };
}

/**
 * REFUNDHUB_TRUST_PROXY: the addresses of the reverse proxies or load balancers in front of the API
 * (comma-separated IPs or CIDRs, e.g. `10.0.0.0/8`), whose X-Forwarded-For and X-Forwarded-Proto
 * are believed. Behind one, every client would otherwise share the proxy's address (and its
 * notification budget), and a dashboard served over HTTPS at the proxy would not get Secure
 * cookies. Unset: no proxy is trusted (the socket's peer is the client). `true`, a bare hop count
 * or `*` is refused: anyone could then forge their address.
 */
export function trustProxyFromEnv(env: Record<string, string | undefined> = process.env): string | undefined {
  const name = 'REFUNDHUB_TRUST_PROXY';
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return undefined;
  const parts = raw.split(',').map((p) => p.trim());
  for (const p of parts) {
    const [address = '', prefix, ...rest] = p.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    // A /0 trusts every address, like `*`; a prefix must be a whole number within the family's bits.
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) >= 1 && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || rest.length > 0) {
      throw new RefundHubError('not_configured', `${name} must list the proxies' addresses as IPs or CIDRs (prefix /1 or longer) separated by commas (e.g. "10.0.0.0/8,127.0.0.1"), not "${p.slice(0, 48)}"`);
    }
  }
  return parts.join(',');
}
