import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RefundHubError } from '../errors.js';
import { csvField, MAX_RECORD_CHARS, readCsv, type CsvRecord } from './csv.js';

async function all(text: string | string[]): Promise<CsvRecord[]> {
  const chunks = (Array.isArray(text) ? text : [text]).map((t) => Buffer.from(t, 'utf8'));
  const out: CsvRecord[] = [];
  for await (const r of readCsv(Readable.from(chunks))) out.push(r);
  return out;
}

describe('readCsv (RFC 4180)', () => {
  it('reads fields, quotes, doubled quotes, commas and line breaks inside quotes, CRLF and LF, with line numbers', async () => {
    const recs = await all('provider,id\r\nziina,"a,b"\r\nstan,"say ""hi"""\n"x","multi\r\nline"\nlast,row');
    expect(recs).toEqual([
      { line: 1, fields: ['provider', 'id'] },
      { line: 2, fields: ['ziina', 'a,b'] },
      { line: 3, fields: ['stan', 'say "hi"'] },
      { line: 4, fields: ['x', 'multi\nline'] },
      { line: 6, fields: ['last', 'row'] },
    ]);
  });

  it('skips a BOM and blank lines, and keeps counting lines across them', async () => {
    expect(await all('\uFEFFa,b\n\n1,2\n')).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 3, fields: ['1', '2'] },
    ]);
  });

  it('gives the same records whatever the chunking (split inside quotes, CRLF and multi-byte characters)', async () => {
    const text = 'a,b\r\n"é,""x""",ü\r\n"line\r\nbreak",z\r\n';
    const whole = await all(text);
    const bytes = Buffer.from(text, 'utf8');
    const split: CsvRecord[] = [];
    // One byte at a time splits every CRLF and every two-byte character.
    for await (const r of readCsv(Readable.from([...bytes].map((b) => Buffer.from([b]))))) split.push(r);
    expect(split).toEqual(whole);
    expect(whole).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['é,"x"', 'ü'] },
      { line: 3, fields: ['line\nbreak', 'z'] },
    ]);
  });

  it('reports malformed rows with their line and reads on', async () => {
    const recs = await all('a,b\nx"y,1\n"q"z,2\nok,3\n"open,4');
    expect(recs).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, error: expect.stringContaining('quote inside an unquoted field') },
      { line: 3, error: 'text after a closing quote' },
      { line: 4, fields: ['ok', '3'] },
      { line: 5, error: expect.stringContaining('unterminated') },
    ]);
  });

  it('stops with invalid_input on a record longer than the cap instead of buffering the rest of the file', async () => {
    const err = await all(`a\n"${'x'.repeat(MAX_RECORD_CHARS + 10)}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RefundHubError);
    expect((err as RefundHubError).code).toBe('invalid_input');
    expect((err as RefundHubError).message).toContain('line 2');
  });

  it('streams: the first records arrive after one chunk is pulled, not after the whole source', async () => {
    let pulled = 0;
    const ROWS = 100_000;
    async function* source() {
      yield Buffer.from('provider,id\n');
      for (let i = 0; i < ROWS; i += 100) {
        pulled += 100;
        yield Buffer.from(Array.from({ length: 100 }, (_, j) => `stan,id-${i + j}\n`).join(''));
      }
    }
    const progress = { bytesRead: 0, charsParsed: 0 };
    const it = readCsv(source(), progress);
    const first: CsvRecord[] = [];
    for (let i = 0; i < 50; i++) first.push((await it.next()).value as CsvRecord);
    expect(first.at(-1)).toEqual({ line: 50, fields: ['stan', 'id-48'] });
    // Had the reader gathered the file first, all 100,000 rows would have been pulled by now.
    expect(pulled).toBeLessThanOrEqual(100);
    expect(progress.bytesRead).toBeLessThan(2000);
    // Where the reader stands: through the header and rows id-0 to id-48, not the chunk's end.
    expect(progress.charsParsed).toBe('provider,id\n'.length + 10 * 'stan,id-0\n'.length + 39 * 'stan,id-10\n'.length);
    await it.return(undefined);
  });

  it('csvField writes what readCsv reads back', async () => {
    const values = ['plain', 'a,b', 'say "hi"', 'two\nlines', '', 42];
    expect(values.map(csvField).join(',')).toBe('plain,"a,b","say ""hi""","two\nlines",,42');
    expect(await all(`${values.map(csvField).join(',')}\n`)).toEqual([{ line: 1, fields: values.map(String) }]);
  });
});
