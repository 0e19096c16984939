import { hmacSha256Hex } from '../../signing/hmac.js';
import type { OnekeySettings } from './config.js';

/**
 * OneKey / D24 request signing, shared by the connector and the emulator so both sides follow
 * one recipe (directa24/cashin-java-sdk ClientUtils.java; "Calculating the Signature" pages).
 */

/** `yyyy-MM-ddTHH:mm:ssZ` in UTC with a literal Z and no milliseconds, as the D24 SDK sends it. */
export function formatXDate(nowMs: number): string {
  return new Date(nowMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Lowercase hex HMAC-SHA256 keyed with the secret over X-Date + X-Login + body ('' for GET). */
export function onekeySignature(secretKey: string, xDate: string, login: string, body = ''): string {
  // The path and query are not signed; the three parts are concatenated with no separator.
  return hmacSha256Hex(secretKey, xDate, login, body);
}

/** The headers of one signed request; build them per attempt so X-Date stays fresh. */
export function onekeyAuthHeaders(settings: Pick<OnekeySettings, 'login' | 'secretKey' | 'authPrefix'>, nowMs: number, body = ''): Record<string, string> {
  const xDate = formatXDate(nowMs);
  return {
    'X-Date': xDate,
    'X-Login': settings.login,
    Authorization: `${settings.authPrefix} ${onekeySignature(settings.secretKey, xDate, settings.login, body)}`,
    'Content-Type': 'application/json',
  };
}
