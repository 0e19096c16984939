import { randomUUID, sign, verify } from 'node:crypto';
import type { Clock } from '../../clock.js';
import { safeEqual } from '../../signing/hmac.js';
import type { Gr4vyKeyMaterial } from './keys.js';

/**
 * Gr4vy API tokens: ES512 JWTs signed with the API key-pair's P-521 key, as `@gr4vy/sdk` 1.10.18
 * `src/lib/auth.ts` builds them (header `{alg, typ, kid}`, claims `scopes, iat, nbf, exp, jti, iss`).
 * Signing and verification both use node:crypto directly: synchronous, and `ieee-p1363` gives
 * the raw r||s signature JWS wants (132 bytes for P-521) instead of DER.
 */

/** Lifetime of a token we sign, counted from the (backdated) `iat`. */
export const TOKEN_LIFETIME_S = 60;
/**
 * `iat`/`nbf` are backdated by this much: with `nbf = iat` (the SDK's `notBefore: "0s"`) a client
 * clock a little ahead of Gr4vy's would get "token not yet valid" (providers.md, Gr4vy token lifetime).
 */
export const CLOCK_SKEW_BACKDATE_S = 5;
/** A cached token is re-signed once less than this much of its life remains. */
export const RENEW_BEFORE_MS = 15_000;
const SIGNATURE_BYTES = 132;

export interface Gr4vyClaims {
  scopes: string[];
  iat: number;
  nbf: number;
  exp: number;
  jti: string;
  iss: string;
  [claim: string]: unknown;
}

const b64json = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** Signs a Gr4vy JWT with explicit claims (tests and the emulator use it to craft edge cases). */
export function signGr4vyJwt(key: Gr4vyKeyMaterial, claims: Gr4vyClaims, header: Record<string, unknown> = {}): string {
  const input = `${b64json({ alg: 'ES512', typ: 'JWT', kid: key.kid, ...header })}.${b64json(claims)}`;
  const signature = sign('sha512', Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

/** The claims RefundHub sends: `scopes`, backdated `iat`/`nbf`, `exp`, a fresh `jti` and `iss`. */
export function gr4vyClaims(scopes: readonly string[], nowMs: number): Gr4vyClaims {
  const iat = Math.floor(nowMs / 1000) - CLOCK_SKEW_BACKDATE_S;
  return { scopes: [...scopes], iat, nbf: iat, exp: iat + TOKEN_LIFETIME_S, jti: randomUUID(), iss: 'RefundHub' };
}

/**
 * One connector's token: reused while it has at least RENEW_BEFORE_MS of life left, so a busy
 * connector signs about once every 40 s instead of once per request (the SDK signs per request).
 */
export class Gr4vyTokenSource {
  private cached: { token: string; expMs: number } | undefined;

  constructor(
    private readonly key: Gr4vyKeyMaterial,
    private readonly scopes: readonly string[],
    private readonly clock: Clock,
  ) {}

  token(): string {
    const now = this.clock.now();
    if (this.cached && this.cached.expMs - now >= RENEW_BEFORE_MS) return this.cached.token;
    const claims = gr4vyClaims(this.scopes, now);
    this.cached = { token: signGr4vyJwt(this.key, claims), expMs: claims.exp * 1000 };
    return this.cached.token;
  }

  /** Drops the cached token (after the API rejected it), so the next request signs afresh. */
  invalidate(): void {
    this.cached = undefined;
  }
}

export type VerifyResult =
  | { ok: true; exp: number; scopes: string[] }
  | { ok: false; status: 401 | 403; message: string };

function decodeJson(part: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const unauthorized = (message: string): VerifyResult => ({ ok: false, status: 401, message });

/**
 * Verifies a Gr4vy JWT the way the API does: ES512 only, `kid` equal to the key's thumbprint
 * (constant-time), a valid signature, `exp`/`nbf` within `leewayS`, and a scope that allows
 * reading refunds (`*.read` or `transactions.read`, else 403).
 */
export function verifyGr4vyJwt(token: string, key: Gr4vyKeyMaterial, nowMs: number, leewayS = 5): VerifyResult {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return unauthorized('No valid API authentication found');
  const [h, p, s] = parts as [string, string, string];
  const header = decodeJson(h);
  if (!header || header.alg !== 'ES512') return unauthorized('No valid API authentication found');
  if (typeof header.kid !== 'string' || !safeEqual(Buffer.from(header.kid), Buffer.from(key.kid))) return unauthorized('No valid API authentication found');
  const signature = Buffer.from(s, 'base64url');
  let good = false;
  if (signature.length === SIGNATURE_BYTES) {
    try {
      good = verify('sha512', Buffer.from(`${h}.${p}`), { key: key.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
    } catch {
      good = false;
    }
  }
  if (!good) return unauthorized('No valid API authentication found');
  const claims = decodeJson(p);
  if (!claims) return unauthorized('No valid API authentication found');
  const now = nowMs / 1000;
  if (typeof claims.exp !== 'number' || now > claims.exp + leewayS) return unauthorized('The API token has expired');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || now < claims.nbf - leewayS)) return unauthorized('The API token is not valid yet');
  const scopes = Array.isArray(claims.scopes) ? claims.scopes.filter((x): x is string => typeof x === 'string') : [];
  if (!scopes.includes('*.read') && !scopes.includes('transactions.read')) {
    return { ok: false, status: 403, message: 'The API token does not have the transactions.read scope' };
  }
  return { ok: true, exp: claims.exp, scopes };
}
