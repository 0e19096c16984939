import { generateKeyPairSync } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK, importSPKI, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../clock.js';
import { DEMO_GR4VY_PRIVATE_KEY } from './demo-key.js';
import { gr4vyClaims, Gr4vyTokenSource, signGr4vyJwt, verifyGr4vyJwt } from './jwt.js';
import { loadGr4vyKey } from './keys.js';

const key = loadGr4vyKey(DEMO_GR4VY_PRIVATE_KEY);
const NOW = Date.UTC(2026, 0, 1, 12, 0, 0);

describe('gr4vy JWT', () => {
  it('is accepted by an independent verifier (jose) with the public key, and kid is the RFC 7638 thumbprint', async () => {
    const clock = new ManualClock(Date.now());
    const token = new Gr4vyTokenSource(key, ['*.read'], clock).token();
    const spki = key.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const publicKey = await importSPKI(spki, 'ES512');
    const { payload, protectedHeader } = await jwtVerify(token, publicKey, { algorithms: ['ES512'], issuer: 'RefundHub' });
    expect(protectedHeader).toEqual({ alg: 'ES512', typ: 'JWT', kid: expect.any(String) });
    const jwk = await exportJWK(publicKey);
    const thumbprint = await calculateJwkThumbprint({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } as Parameters<typeof calculateJwkThumbprint>[0], 'sha256');
    expect(protectedHeader.kid).toBe(thumbprint);
    expect(protectedHeader.kid).toHaveLength(43);
    expect(payload.scopes).toEqual(['*.read']);
    expect(payload.jti).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Signature is raw r||s: 132 bytes for P-521.
    expect(Buffer.from(token.split('.')[2]!, 'base64url')).toHaveLength(132);
  });

  it('backdates iat/nbf by 5 s and expires 60 s after iat', () => {
    const claims = gr4vyClaims(['*.read'], NOW + 999);
    expect(claims.iat).toBe(NOW / 1000 - 5);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp).toBe(claims.iat + 60);
    expect(claims.iss).toBe('RefundHub');
  });

  it('reuses one token while it has life left and renews it near expiry', () => {
    const clock = new ManualClock(NOW);
    const source = new Gr4vyTokenSource(key, ['*.read'], clock);
    const first = source.token();
    expect(source.token()).toBe(first);
    clock.advance(39_000); // exp is NOW + 55 s: 16 s left
    expect(source.token()).toBe(first);
    clock.advance(2_000); // 14 s left: renew
    const second = source.token();
    expect(second).not.toBe(first);
    expect(verifyGr4vyJwt(second, key, clock.now()).ok).toBe(true);
    source.invalidate();
    expect(source.token()).not.toBe(second);
  });

  describe('verification (what the emulator enforces)', () => {
    const good = () => signGr4vyJwt(key, gr4vyClaims(['*.read'], NOW));
    it('accepts *.read and transactions.read', () => {
      expect(verifyGr4vyJwt(good(), key, NOW)).toMatchObject({ ok: true });
      expect(verifyGr4vyJwt(signGr4vyJwt(key, gr4vyClaims(['transactions.read'], NOW)), key, NOW)).toMatchObject({ ok: true });
    });
    it('answers 403 without a refund-reading scope', () => {
      expect(verifyGr4vyJwt(signGr4vyJwt(key, gr4vyClaims(['buyers.read', '*.write'], NOW)), key, NOW)).toMatchObject({ ok: false, status: 403 });
    });
    it('rejects expired and not-yet-valid tokens beyond the leeway', () => {
      expect(verifyGr4vyJwt(good(), key, NOW + 59_000)).toMatchObject({ ok: true });
      expect(verifyGr4vyJwt(good(), key, NOW + 61_000)).toMatchObject({ ok: false, status: 401 });
      expect(verifyGr4vyJwt(good(), key, NOW - 9_000)).toMatchObject({ ok: true });
      expect(verifyGr4vyJwt(good(), key, NOW - 11_000)).toMatchObject({ ok: false, status: 401 });
    });
    it('rejects another key, a wrong kid, a wrong alg and a tampered payload', () => {
      const other = loadGr4vyKey(generateKeyPairSync('ec', { namedCurve: 'P-521' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
      const foreign = signGr4vyJwt(other, gr4vyClaims(['*.read'], NOW));
      expect(verifyGr4vyJwt(foreign, key, NOW)).toMatchObject({ ok: false, status: 401 });
      // Right kid but signed by another key.
      expect(verifyGr4vyJwt(signGr4vyJwt(other, gr4vyClaims(['*.read'], NOW), { kid: key.kid }), key, NOW)).toMatchObject({ ok: false, status: 401 });
      expect(verifyGr4vyJwt(signGr4vyJwt(key, gr4vyClaims(['*.read'], NOW), { kid: 'not-the-thumbprint' }), key, NOW)).toMatchObject({ ok: false, status: 401 });
      expect(verifyGr4vyJwt(signGr4vyJwt(key, gr4vyClaims(['*.read'], NOW), { alg: 'none' }), key, NOW)).toMatchObject({ ok: false, status: 401 });
      const [h, , s] = good().split('.');
      const forged = Buffer.from(JSON.stringify({ ...gr4vyClaims(['*.read'], NOW), exp: NOW / 1000 + 86_400 })).toString('base64url');
      expect(verifyGr4vyJwt(`${h}.${forged}.${s}`, key, NOW)).toMatchObject({ ok: false, status: 401 });
      expect(verifyGr4vyJwt('not.a.jwt', key, NOW)).toMatchObject({ ok: false, status: 401 });
      expect(decodeProtectedHeader(foreign).kid).toBe(other.kid);
    });
  });
});
