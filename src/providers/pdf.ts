import type { ProviderId } from '../domain/refund.js';
import { RefundHubError } from '../errors.js';

/**
 * Largest proof-of-refund PDF accepted, decoded: 3 MiB. Its Base64 (4 MiB) still fits the
 * transport's 5 MiB response cap with room for the rest of the body; a receipt is tens of KiB.
 */
export const MAX_VOUCHER_BYTES = 3 * 1024 * 1024;

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Decodes a provider's Base64 PDF (OneKey's `voucher`) and checks it is one. Node's Base64 decoder
 * skips characters it does not know, so the text is checked strictly first: a provider answering
 * garbage must get `invalid_response`, not a file of garbage bytes. Line breaks (MIME style) are allowed.
 * Errors never quote the document.
 */
export function decodeBase64Pdf(provider: ProviderId, text: string, maxBytes = MAX_VOUCHER_BYTES): Buffer {
  const compact = text.replace(/[\r\n]/g, '');
  if (compact.length > Math.ceil(maxBytes / 3) * 4) {
    throw new RefundHubError('invalid_response', `${provider}: proof of refund is larger than ${maxBytes} bytes`, { provider, retryable: false });
  }
  if (compact.length === 0 || compact.length % 4 !== 0 || !BASE64_RE.test(compact)) {
    throw new RefundHubError('invalid_response', `${provider}: proof of refund is not valid Base64`, { provider, retryable: false });
  }
  const pdf = Buffer.from(compact, 'base64');
  // Every PDF starts with its header line (ISO 32000-1, 7.5.2).
  if (pdf.length < 8 || pdf.subarray(0, 5).toString('latin1') !== '%PDF-') {
    throw new RefundHubError('invalid_response', `${provider}: proof of refund is not a PDF`, { provider, retryable: false });
  }
  return pdf;
}
