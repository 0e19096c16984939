import { describe, expect, it } from 'vitest';
import { parseCreatedBound, parseListQuery } from './list-query.js';

describe('parseCreatedBound', () => {
  it('a date is UTC midnight as a lower bound and the last millisecond of that day as an upper one', () => {
    expect(parseCreatedBound('2026-01-31', 'createdFrom', 'from')).toBe('2026-01-31T00:00:00.000Z');
    expect(parseCreatedBound('2026-01-31', 'createdTo', 'to')).toBe('2026-01-31T23:59:59.999Z');
    expect(parseCreatedBound('2024-02-29', 'createdTo', 'to')).toBe('2024-02-29T23:59:59.999Z');
  });

  it('a timestamp is taken as it is (no zone means UTC), in either position', () => {
    expect(parseCreatedBound('2026-01-31T12:00:00+04:00', 'createdTo', 'to')).toBe('2026-01-31T08:00:00.000Z');
    expect(parseCreatedBound('2026-01-31T12:00', 'createdFrom', 'from')).toBe('2026-01-31T12:00:00.000Z');
  });

  it('anything else is invalid_input naming the parameter, even what Date.parse would take', () => {
    for (const v of ['yesterday', '1', 'March 7, 2026', '2026-02-30', '2026-13-01', '2026-1-1', '', 'Sat, 31 Jan 2026 00:00:00 GMT']) {
      expect(() => parseCreatedBound(v, '--created-from', 'from'), v).toThrow(expect.objectContaining({ code: 'invalid_input', message: expect.stringMatching(/^--created-from must be a date/) }));
    }
  });
});

describe('parseListQuery', () => {
  it('parses strings from a query string or flags, and leaves empty values out', () => {
    expect(parseListQuery({ provider: 'stan', status: 'pending', stuck: 'false', limit: '20', account: '', cursor: '' }, { defaultLimit: 50 })).toEqual({ provider: 'stan', status: 'pending', stuck: false, limit: 20 });
    expect(parseListQuery({}, { defaultLimit: 100 })).toEqual({ limit: 100 });
    expect(parseListQuery({ stuck: true, limit: 500 }, { defaultLimit: 50 })).toEqual({ stuck: true, limit: 500 });
  });

  it('refuses repeated parameters and values out of range', () => {
    for (const raw of [{ provider: ['stan', 'ziina'] }, { limit: '0' }, { limit: 501 }, { stuck: 'yes' }, { provider: 'constructor' }, { cursor: 'x'.repeat(1025) }]) {
      expect(() => parseListQuery(raw, { defaultLimit: 50 }), JSON.stringify(raw).slice(0, 60)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    }
  });
});
