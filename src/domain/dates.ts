/**
 * Provider timestamps, normalized to ISO 8601 UTC with milliseconds. Every parser here is
 * explicit about zones: `new Date("2023-07-23 23:59:56")` is read as local time by Node, which
 * would move Tazapay's UTC timestamps by the machine's offset.
 */

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$/;

/**
 * Parses an ISO 8601 / RFC 3339 timestamp, or the space-separated variant. A value without a zone
 * is taken as UTC. Fractions beyond milliseconds are truncated. Returns null when unparseable.
 */
export function parseIsoToUtc(value: unknown): string | null {
  if (typeof value !== 'string') return null;
  const m = ISO_RE.exec(value.trim());
  if (!m) return null;
  const [, y, mo, d, h, mi, s = '00', frac = '', zone] = m;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let offsetMin = 0;
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    offsetMin = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4)));
  }
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  // Date.UTC rolls 31 February into March; a provider sending that is sending garbage. Checked on
  // the calendar date itself, before the offset moves the instant into another day.
  if (new Date(Date.UTC(Number(y), month - 1, day)).getUTCDate() !== day) return null;
  const t = Date.UTC(Number(y), month - 1, day, hour, minute, second, ms) - offsetMin * 60_000;
  if (Number.isNaN(t)) return null;
  return new Date(t).toISOString();
}

/**
 * Parses a unix timestamp given as number or numeric string. The unit is guessed from the size:
 * values below 1e11 are seconds (1e11 s is the year 5138; 1e11 ms is 1973).
 */
export function parseUnixToUtc(value: unknown): string | null {
  let n: number;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value)) n = Number(value);
  else return null;
  if (!Number.isFinite(n) || n < 0) return null;
  const ms = n < 1e11 ? n * 1000 : n;
  const date = new Date(Math.trunc(ms));
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Milliseconds since the epoch of an ISO string we produced, or null. */
export function toEpochMs(iso: string | null): number | null {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}
