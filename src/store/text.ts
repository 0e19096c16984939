/**
 * Text from providers (and callers) made storable the same way on both stores. PostgreSQL refuses
 * U+0000 in `text` (SQLite keeps it), and an index entry over about 2,700 bytes; both would fail
 * the write on one store only. So NULs are dropped everywhere, and the indexed columns fed by
 * providers (notification event ids, merchant references, payment ids) are cut to a bound the
 * code owns.
 */

/** Longest notification event id kept (indexed); a longer one is cut, see `boundedText`. */
export const MAX_EVENT_ID_CHARS = 255;
/** Longest notification event type kept. */
export const MAX_EVENT_TYPE_CHARS = 128;
/**
 * Longest merchant reference kept (indexed for search): 512 characters is at most 2,048 UTF-8
 * bytes, inside PostgreSQL's index entry limit. Real order and invoice numbers are far shorter;
 * a search term is cut the same way, so a longer one still finds its refund.
 */
export const MAX_MERCHANT_REFERENCE_CHARS = 512;
/**
 * Longest payment id kept (indexed for search), for the same reason and the same way. Payment ids
 * are UUIDs or short tokens; a longer value is no real one, and `raw` keeps what was sent.
 */
export const MAX_PAYMENT_ID_CHARS = 512;

const NUL = /\u0000/g;

/** Drops U+0000, which PostgreSQL cannot store in text. */
export function storableText(value: string): string;
export function storableText(value: string | null): string | null;
export function storableText(value: string | null): string | null {
  if (value === null) return null;
  return value.includes('\u0000') ? value.replace(NUL, '') : value;
}

/**
 * `storableText` cut to at most `max` UTF-16 units (so at most `max` characters for PostgreSQL's
 * varchar), never splitting a surrogate pair. Provider event ids this long are not real ones; the
 * cut only has to be stable, so the same id is cut the same way every time.
 */
export function boundedText(value: string, max: number): string;
export function boundedText(value: string | null, max: number): string | null;
export function boundedText(value: string | null, max: number): string | null {
  const v = storableText(value);
  if (v === null || v.length <= max) return v;
  let end = max;
  const last = v.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return v.slice(0, end);
}
