import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { RefundHubError } from '../../errors.js';

/**
 * Gr4vy API key material: the P-521 private key the connector signs with, the public key the
 * emulator verifies with, and the `kid` both agree on. Parsed once per PEM and cached, so neither
 * the connector nor the emulator pays for PEM parsing per request.
 */
export interface Gr4vyKeyMaterial {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** RFC 7638 JWK thumbprint (SHA-256, base64url, 43 chars) of the public key. */
  kid: string;
}

const cache = new Map<string, Gr4vyKeyMaterial>();

/**
 * PEM text as it arrives from env or a config file: single-line values often carry literal `\n`
 * sequences (shells and .env files), which we turn back into line breaks.
 */
export function normalizePem(text: string): string {
  return text.includes('\\n') ? text.replace(/\\r\\n|\\n/g, '\n') : text;
}

/**
 * RFC 7638 thumbprint of an EC public key: SHA-256 over the canonical JSON of `crv, kty, x, y`
 * in that order. Only public members take part, so the private key's thumbprint is the same.
 * (`@gr4vy/sdk` 1.10.18 `src/lib/helpers.ts` getKeyId, via `jwk-thumbprint`.)
 */
export function ecThumbprint(publicKey: KeyObject): string {
  const jwk = publicKey.export({ format: 'jwk' });
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

/**
 * Parses a PEM private key (PKCS#8 or SEC1) and checks it is ECDSA P-521, the only key type the
 * Gr4vy SDKs sign with (ES512). Throws not_configured naming `label`, never echoing key material.
 */
export function loadGr4vyKey(pemText: string, label = 'REFUNDHUB_GR4VY_PRIVATE_KEY'): Gr4vyKeyMaterial {
  const pem = normalizePem(pemText).trim();
  const hit = cache.get(pem);
  if (hit) return hit;
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new RefundHubError('not_configured', `gr4vy: ${label} is not a valid unencrypted PEM private key`, { provider: 'gr4vy', retryable: false });
  }
  if (privateKey.asymmetricKeyType !== 'ec' || privateKey.asymmetricKeyDetails?.namedCurve !== 'secp521r1') {
    throw new RefundHubError('not_configured', `gr4vy: ${label} must be an ECDSA P-521 (secp521r1) private key; Gr4vy tokens are signed with ES512`, { provider: 'gr4vy', retryable: false });
  }
  const publicKey = createPublicKey(privateKey);
  const material: Gr4vyKeyMaterial = { privateKey, publicKey, kid: ecThumbprint(publicKey) };
  // A process sees a handful of keys at most; the bound only guards against a pathological caller.
  if (cache.size >= 64) cache.clear();
  cache.set(pem, material);
  return material;
}
