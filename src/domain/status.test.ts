import { describe, expect, it } from 'vitest';
import type { Logger } from '../logger.js';
import { createStatusMapper } from './status.js';
import { recordingLogger } from '../../test/support/logger.js';



const table = { completed: 'succeeded', PENDING: 'pending', Failed: 'failed', voided: 'canceled', needs_info: 'requires_action' } as const;

describe('createStatusMapper', () => {
  it('maps known words case-insensitively (both the table keys and the input), trimming whitespace', () => {
    const map = createStatusMapper('ziina', table);
    const log = recordingLogger();
    expect(map('completed', log)).toBe('succeeded');
    expect(map('COMPLETED', log)).toBe('succeeded');
    expect(map('Completed', log)).toBe('succeeded');
    expect(map('pending', log)).toBe('pending');
    expect(map('PENDING', log)).toBe('pending');
    expect(map('failed', log)).toBe('failed');
    expect(map('FAILED', log)).toBe('failed');
    expect(map('  voided\n', log)).toBe('canceled');
    expect(map('Needs_Info', log)).toBe('requires_action');
    expect(log.lines).toEqual([]);
  });

  it('maps unknown words to unknown with exactly one warning per word', () => {
    const map = createStatusMapper('stan', table);
    const log = recordingLogger();
    expect(map('exploded', log)).toBe('unknown');
    expect(map('exploded', log)).toBe('unknown');
    expect(map('exploded', log)).toBe('unknown');
    expect(map('on_hold', log)).toBe('unknown');
    expect(map('on_hold', log)).toBe('unknown');
    expect(map('completed', log)).toBe('succeeded');
    expect(log.lines).toHaveLength(2);
    expect(log.lines.every((e) => e.level === 'warn')).toBe(true);
    expect(log.lines[0]!.obj).toEqual({ providerStatus: 'exploded' });
    expect(log.lines[0]!.msg).toBe('unrecognized stan refund status "exploded"; mapped to unknown');
    expect(log.lines[1]!.obj).toEqual({ providerStatus: 'on_hold' });
  });

  it('remembers warnings per mapper, across loggers', () => {
    const map = createStatusMapper('onekey', table);
    const a = recordingLogger();
    const b = recordingLogger();
    map('weird', a);
    map('weird', b);
    expect(a.lines).toHaveLength(1);
    expect(b.lines).toHaveLength(0);
    // A mapper for another provider warns on its own.
    const other = createStatusMapper('gr4vy', table);
    other('weird', b);
    expect(b.lines).toHaveLength(1);
    expect(b.lines[0]!.obj).toEqual({ providerStatus: 'weird' });
    expect(b.lines[0]!.msg).toMatch(/^unrecognized gr4vy refund status/);
  });

  it('works without a logger', () => {
    const map = createStatusMapper('tazapay', table);
    expect(map('nope')).toBe('unknown');
    expect(map('COMPLETED')).toBe('succeeded');
  });

  it('never throws on non-strings; each maps to unknown and warns once', () => {
    const map = createStatusMapper('ziina', table);
    const log = recordingLogger();
    const nullProto = Object.create(null) as object;
    const throwingToString = { toString: () => { throw new Error('boom'); } };
    const values: unknown[] = [undefined, null, 42, 0, true, {}, [], ['completed'], Symbol('completed'), 10n, nullProto, throwingToString, () => 'completed'];
    for (const v of values) {
      expect(() => map(v, log)).not.toThrow();
      expect(map(v, log)).toBe('unknown');
    }
    expect(log.lines.every((e) => e.level === 'warn')).toBe(true);
    // Non-strings keyed by their string form: {} and nullProto and throwingToString share "[object Object]".
    const statuses = log.lines.map((e) => (e.obj as { providerStatus: unknown }).providerStatus);
    expect(statuses).toContain(undefined);
    expect(statuses).toContain(null);
    expect(statuses).toContain(42);
    expect(new Set(log.lines.map((e) => e.msg)).size).toBe(log.lines.length);
    expect(log.lines.length).toBeLessThan(values.length);
  });

  it('an empty or whitespace string is unknown', () => {
    const map = createStatusMapper('ziina', table);
    const log = recordingLogger();
    expect(map('', log)).toBe('unknown');
    expect(map('   ', log)).toBe('unknown');
    expect(log.lines).toHaveLength(2);
  });
});
