import { describe, expect, it } from 'vitest';
import { decodeBase64Pdf, MAX_VOUCHER_BYTES } from './pdf.js';

const pdf = Buffer.from('%PDF-1.4\n1 0 obj\n<<>>\nendobj\n%%EOF\n', 'latin1');

describe('decodeBase64Pdf (OneKey voucher)', () => {
  it('decodes strict Base64 of a PDF, MIME line breaks allowed', () => {
    const b64 = pdf.toString('base64');
    expect(decodeBase64Pdf('onekey', b64).equals(pdf)).toBe(true);
    expect(decodeBase64Pdf('onekey', b64.replace(/(.{16})/g, '$1\r\n')).equals(pdf)).toBe(true);
  });

  it('refuses what Node would silently half-decode, and what is not a PDF, as invalid_response without quoting it', () => {
    for (const bad of ['', 'JVBERi0xLjQK!', 'JVBER i0xLjQK', 'JVBERi0xLjQ', Buffer.from('PK\u0003\u0004 a zip').toString('base64')]) {
      let caught: unknown;
      try {
        decodeBase64Pdf('onekey', bad);
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ code: 'invalid_response', provider: 'onekey' });
      if (bad.length > 4) expect((caught as Error).message).not.toContain(bad.slice(0, 8));
    }
  });

  it('caps the size before decoding anything', () => {
    const tooBig = 'A'.repeat(Math.ceil(MAX_VOUCHER_BYTES / 3) * 4 + 4);
    expect(() => decodeBase64Pdf('onekey', tooBig)).toThrow(/larger than/);
    const small = Buffer.concat([pdf, Buffer.alloc(100)]).toString('base64');
    expect(() => decodeBase64Pdf('onekey', small, 50)).toThrow(/larger than 50 bytes/);
  });
});
