import { StringDecoder } from 'node:string_decoder';
import { RefundHubError } from '../errors.js';

/**
 * A streaming CSV reader (RFC 4180: comma separated, CRLF or LF line ends, fields in double quotes
 * may hold commas, quotes doubled as "" and line breaks). It pulls the source one chunk at a time
 * and yields each record as soon as it ends, so a file of any length is read in constant memory:
 * the caller's pace (`for await`) is what pulls the next chunk.
 */

/** One record: the line it starts on (1-based, counting the header) and its fields, or why it is malformed. */
export type CsvRecord = { line: number; fields: string[]; error?: undefined } | { line: number; fields?: undefined; error: string };

export interface CsvProgress {
  /** Bytes pulled from the source so far (a whole chunk ahead of the records handed out). */
  bytesRead: number;
  /** Characters consumed up to the end of the last record handed out: where the reader stands. */
  charsParsed: number;
}

/**
 * Longest record accepted. Past it the reader cannot tell where the record ends (an unterminated
 * quote swallows the rest of the file), so it stops with an error instead of buffering the file.
 */
export const MAX_RECORD_CHARS = 64 * 1024;

export async function* readCsv(source: AsyncIterable<Buffer | string> | Iterable<Buffer | string>, progress: CsvProgress = { bytesRead: 0, charsParsed: 0 }): AsyncGenerator<CsvRecord> {
  const decoder = new StringDecoder('utf8');
  let fields: string[] = [];
  let field = '';
  let recordChars = 0;
  let inQuotes = false;
  /** Just read the closing quote of a quoted field (or the first of a doubled ""). */
  let afterQuote = false;
  let error: string | undefined;
  let line = 1;
  let recordLine = 1;
  let first = true;
  let pendingCR = false;

  function* endRecord(): Generator<CsvRecord> {
    fields.push(field);
    const blank = fields.length === 1 && fields[0] === '' && !error;
    if (!blank) yield error ? { line: recordLine, error } : { line: recordLine, fields };
    fields = [];
    field = '';
    recordChars = 0;
    error = undefined;
    afterQuote = false;
  }

  function* feed(text: string): Generator<CsvRecord> {
    for (let i = 0; i < text.length; i++) {
      progress.charsParsed++;
      let c = text[i]!;
      if (first) {
        first = false;
        if (c === '\uFEFF') continue;
      }
      if (pendingCR) {
        pendingCR = false;
        if (c === '\n') continue;
      }
      if (++recordChars > MAX_RECORD_CHARS) {
        throw new RefundHubError('invalid_input', `line ${recordLine}: a row longer than ${MAX_RECORD_CHARS} characters (an unterminated quote?)`);
      }
      if (inQuotes) {
        if (c === '"') {
          inQuotes = false;
          afterQuote = true;
        } else {
          if (c === '\n' || c === '\r') {
            line++;
            if (c === '\r') pendingCR = true;
            // A CR LF inside quotes is one line break; keep it as LF.
            c = '\n';
          }
          field += c;
        }
        continue;
      }
      if (afterQuote && c === '"') {
        // "" inside a quoted field: a literal quote, and the field goes on.
        field += '"';
        inQuotes = true;
        afterQuote = false;
        continue;
      }
      if (c === ',') {
        fields.push(field);
        field = '';
        afterQuote = false;
      } else if (c === '\n' || c === '\r') {
        if (c === '\r') pendingCR = true;
        yield* endRecord();
        line++;
        recordLine = line;
      } else if (c === '"') {
        if (field === '' && !afterQuote) inQuotes = true;
        else error ??= 'a quote inside an unquoted field (quote the whole field and double the quote)';
      } else {
        if (afterQuote) error ??= 'text after a closing quote';
        field += c;
      }
    }
  }

  for await (const chunk of source) {
    progress.bytesRead += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    yield* feed(typeof chunk === 'string' ? chunk : decoder.write(chunk));
  }
  yield* feed(decoder.end());
  if (inQuotes) {
    yield { line: recordLine, error: 'an unterminated quoted field at the end of the file' };
    return;
  }
  if (field !== '' || fields.length > 0 || afterQuote || error) yield* endRecord();
}

/** One field for writing CSV: quoted (quotes doubled) when it holds a comma, quote or line break. */
export function csvField(v: string | number): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
