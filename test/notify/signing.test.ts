import { describe, expect, it } from 'vitest';
import { hmacSha256Hex } from '../../src/signing/hmac.js';
import { signWebhook, verifyWebhook } from '../../src/signing/webhook.js';

const secret = 'whsec_test_secret';
const body = JSON.stringify({ id: 'evt_1', type: 'refund.succeeded', data: { amount: 'é10.50' } });
const now = Date.UTC(2026, 0, 1, 12, 0, 0);
const t = Math.floor(now / 1000);

describe('signWebhook / verifyWebhook', () => {
  it('produces t=<ts>,v1=<hex HMAC-SHA256(secret, t.payload)>', () => {
    const header = signWebhook(body, secret, t);
    expect(header).toBe(`t=${t},v1=${hmacSha256Hex(secret, `${t}.${body}`)}`);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
  });

  it('round-trips with a string body and with the raw bytes', () => {
    const header = signWebhook(body, secret, t);
    expect(verifyWebhook(body, header, secret, { now })).toBe(true);
    expect(verifyWebhook(Buffer.from(body, 'utf8'), header, secret, { now })).toBe(true);
  });

  it('rejects a tampered body, a wrong secret and a tampered signature or timestamp', () => {
    const header = signWebhook(body, secret, t);
    expect(verifyWebhook(body.replace('10.50', '10.51'), header, secret, { now })).toBe(false);
    expect(verifyWebhook(`${body} `, header, secret, { now })).toBe(false);
    expect(verifyWebhook(body, header, 'whsec_other', { now })).toBe(false);
    const sig = header.split('v1=')[1]!;
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    expect(verifyWebhook(body, `t=${t},v1=${flipped}`, secret, { now })).toBe(false);
    // Same MAC, moved timestamp: the timestamp is inside the MAC.
    expect(verifyWebhook(body, `t=${t + 1},v1=${sig}`, secret, { now })).toBe(false);
  });

  it('enforces the tolerance in both directions (default 300 s)', () => {
    const header = signWebhook(body, secret, t);
    expect(verifyWebhook(body, header, secret, { now: now + 300_000 })).toBe(true);
    expect(verifyWebhook(body, header, secret, { now: now + 301_000 })).toBe(false);
    expect(verifyWebhook(body, header, secret, { now: now - 301_000 })).toBe(false);
    expect(verifyWebhook(body, header, secret, { now: now + 3_600_000, toleranceSeconds: 3600 })).toBe(true);
    expect(verifyWebhook(body, header, secret, { now: now + 10_000, toleranceSeconds: 5 })).toBe(false);
    // Without `now`, the real time is used: a signature from 2026-01-01 12:00 is only valid around then.
    expect(verifyWebhook(body, signWebhook(body, secret, Math.floor(Date.now() / 1000)), secret)).toBe(true);
    expect(verifyWebhook(body, signWebhook(body, secret, Math.floor(Date.now() / 1000) - 1000), secret)).toBe(false);
  });

  it('accepts any of several v1 entries and ignores other schemes', () => {
    const good = signWebhook(body, secret, t).split('v1=')[1]!;
    const other = hmacSha256Hex('whsec_old', `${t}.${body}`);
    expect(verifyWebhook(body, `t=${t},v1=${other},v1=${good}`, secret, { now })).toBe(true);
    expect(verifyWebhook(body, `t=${t}, v0=abc, v1=${good}`, secret, { now })).toBe(true);
    expect(verifyWebhook(body, `t=${t},v1=${other}`, secret, { now })).toBe(false);
    expect(verifyWebhook(body, `v1=${good},t=${t}`, secret, { now })).toBe(true);
  });

  it('is false, never a throw, on malformed headers', () => {
    const good = signWebhook(body, secret, t).split('v1=')[1]!;
    const malformed: (string | undefined)[] = [
      undefined,
      '',
      'garbage',
      `v1=${good}`,
      `t=${t}`,
      `t=${t},v1=`,
      `t=${t},v1=zz${good.slice(2)}`,
      `t=${t},v1=${good.slice(1)}`,
      `t=abc,v1=${good}`,
      `t=-${t},v1=${good}`,
      `t=${t}.5,v1=${good}`,
      `t=,v1=${good}`,
      `t=${t},t=${t},v1=${good}`,
      `t=${t},,v1=${good}`,
      `=${t},v1=${good}`,
      `t=${t},v1=${good}`.repeat(1000),
    ];
    for (const h of malformed) expect(verifyWebhook(body, h, secret, { now }), String(h).slice(0, 60)).toBe(false);
    expect(verifyWebhook(body, signWebhook(body, secret, t), '', { now })).toBe(false);
    expect(verifyWebhook(body, 123 as unknown as string, secret, { now })).toBe(false);
    expect(verifyWebhook(null as unknown as string, signWebhook(body, secret, t), secret, { now })).toBe(false);
  });

  it('refuses to sign with a non-integer timestamp', () => {
    expect(() => signWebhook(body, secret, 1.5)).toThrow(TypeError);
    expect(() => signWebhook(body, secret, Date.now() / 1000)).toThrow(TypeError);
  });
});
