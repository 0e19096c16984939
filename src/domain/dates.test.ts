import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseIsoToUtc, parseUnixToUtc, toEpochMs } from './dates.js';

const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('parseIsoToUtc', () => {
  it('reads a zone-less space-separated timestamp as UTC', () => {
    expect(parseIsoToUtc('2023-07-23 23:59:56')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('  2023-07-23 23:59:56  ')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T23:59')).toBe('2023-07-23T23:59:00.000Z');
  });

  it('truncates fractions beyond milliseconds (never rounds)', () => {
    expect(parseIsoToUtc('2023-07-23T23:59:56.123456789Z')).toBe('2023-07-23T23:59:56.123Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56.999999999Z')).toBe('2023-07-23T23:59:56.999Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56.5Z')).toBe('2023-07-23T23:59:56.500Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56,25Z')).toBe('2023-07-23T23:59:56.250Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56.1234567890Z')).toBeNull(); // 10 digits
  });

  it('applies offsets', () => {
    expect(parseIsoToUtc('2023-07-24T03:59:56+04:00')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-24T03:59:56+0400')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T18:29:56-0530')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T18:29:56-05:30')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56Z')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56z')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-07-23T23:59:56+00:00')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseIsoToUtc('2023-12-31T23:30:00-01:00')).toBe('2024-01-01T00:30:00.000Z');
    expect(parseIsoToUtc('2023-07-23 23:59:56.987654 +04:00')).toBe('2023-07-23T19:59:56.987Z');
  });

  it('rejects impossible calendar dates and times', () => {
    expect(parseIsoToUtc('2023-02-31 00:00:00')).toBeNull();
    expect(parseIsoToUtc('2023-02-29T12:00:00Z')).toBeNull();
    expect(parseIsoToUtc('2024-02-29T12:00:00Z')).toBe('2024-02-29T12:00:00.000Z');
    expect(parseIsoToUtc('2023-04-31T00:00:00Z')).toBeNull();
    expect(parseIsoToUtc('2023-13-01T00:00:00Z')).toBeNull();
    expect(parseIsoToUtc('2023-00-10T00:00:00Z')).toBeNull();
    expect(parseIsoToUtc('2023-07-00T00:00:00Z')).toBeNull();
    expect(parseIsoToUtc('2023-07-32T00:00:00Z')).toBeNull();
    expect(parseIsoToUtc('2023-07-23 25:00:00')).toBeNull();
    expect(parseIsoToUtc('2023-07-23 24:00:00')).toBeNull();
    expect(parseIsoToUtc('2023-07-23 23:60:00')).toBeNull();
    expect(parseIsoToUtc('2023-07-23 23:59:61')).toBeNull();
  });

  it('rejects impossible dates even when an offset is present', () => {
    // The offset used to bypass the rollover check: "31 Feb +04:00" came back as 2 March.
    expect(parseIsoToUtc('2023-02-31T00:00:00+04:00')).toBeNull();
    expect(parseIsoToUtc('2023-02-29 10:00:00-0100')).toBeNull();
    expect(parseIsoToUtc('2023-06-31T12:00:00-05:30')).toBeNull();
  });

  it.each(['', 'garbage', '2023-07-23', '23:59:56', '2023/07/23 23:59:56', '2023-7-23 23:59:56', '2023-07-23T23:59:56+4', '2023-07-23T23:59:56 UTC', '1690156796', 'Sun, 23 Jul 2023 23:59:56 GMT'])(
    'garbage %j -> null',
    (v) => {
      expect(parseIsoToUtc(v)).toBeNull();
    },
  );

  it.each([null, undefined, 1690156796, 0, true, {}, [], new Date('2023-07-23T23:59:56Z')])('non-string %j -> null', (v) => {
    expect(parseIsoToUtc(v)).toBeNull();
  });

  it('does not move a zone-less timestamp in a non-UTC process (TZ=Asia/Dubai)', async () => {
    const script = [
      "import('./src/domain/dates.ts').then((m) => {",
      "  const naive = new Date('2023-07-23 23:59:56').toISOString();",
      "  console.log(JSON.stringify({ tz: Intl.DateTimeFormat().resolvedOptions().timeZone, naive, ours: m.parseIsoToUtc('2023-07-23 23:59:56') }));",
      '});',
    ].join('\n');
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', script], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, TZ: 'Asia/Dubai' },
      timeout: 20_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').pop()!) as { tz: string; naive: string; ours: string };
    expect(out.tz).toBe('Asia/Dubai');
    // The child really is 4 h ahead: the naive Date parse moves by the offset...
    expect(out.naive).toBe('2023-07-23T19:59:56.000Z');
    // ...ours does not.
    expect(out.ours).toBe('2023-07-23T23:59:56.000Z');
  });
});

describe('parseUnixToUtc', () => {
  it('reads values below 1e11 as seconds and from 1e11 as milliseconds', () => {
    expect(parseUnixToUtc(1690156796)).toBe('2023-07-23T23:59:56.000Z');
    expect(parseUnixToUtc(1690156796123)).toBe('2023-07-23T23:59:56.123Z');
    expect(parseUnixToUtc(1e11 - 1)).toBe(new Date((1e11 - 1) * 1000).toISOString());
    expect(parseUnixToUtc(1e11 - 1)!.startsWith('5138-')).toBe(true);
    expect(parseUnixToUtc(1e11)).toBe('1973-03-03T09:46:40.000Z');
    expect(parseUnixToUtc(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(parseUnixToUtc(1690156796.5)).toBe('2023-07-23T23:59:56.500Z');
  });

  it('accepts numeric strings', () => {
    expect(parseUnixToUtc('1690156796')).toBe('2023-07-23T23:59:56.000Z');
    expect(parseUnixToUtc(' 1690156796123 ')).toBe('2023-07-23T23:59:56.123Z');
    expect(parseUnixToUtc('1690156796.25')).toBe('2023-07-23T23:59:56.250Z');
    expect(parseUnixToUtc('100000000000')).toBe('1973-03-03T09:46:40.000Z');
  });

  it.each([-1, '-1', -1690156796, Number.NaN, Number.POSITIVE_INFINITY, 1e20, '', 'abc', '1e9', '0x10', '12abc', null, undefined, {}, true])(
    '%j -> null',
    (v) => {
      expect(parseUnixToUtc(v)).toBeNull();
    },
  );
});

describe('toEpochMs', () => {
  it('reads our ISO strings back', () => {
    expect(toEpochMs('2023-07-23T23:59:56.000Z')).toBe(Date.UTC(2023, 6, 23, 23, 59, 56));
    expect(toEpochMs(null)).toBeNull();
    expect(toEpochMs('nope')).toBeNull();
  });
});
