import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Markdown tables break silently: a paragraph dropped between two rows turns every row after it
 * into plain text. Each table-looking line must belong to a block that starts with a header row
 * and its `| --- |` separator, with no other line in between.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const isRow = (line: string) => line.trimStart().startsWith('|');
const isSeparator = (line: string) => /^\s*\|(\s*:?-{3,}:?\s*\|)+\s*$/.test(line);

/** Rows that are not in a table (no header and separator above them in the same block), as `file:line`. */
function orphanRows(file: string, text: string): string[] {
  const lines = text.split('\n');
  const orphans: string[] = [];
  let inFence = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*```/.test(line)) inFence = !inFence;
    if (inFence || !isRow(line)) continue;
    // The first row of a block: a table only when the next line is its separator.
    if (i === 0 || !isRow(lines[i - 1]!)) {
      if (!isSeparator(lines[i + 1] ?? '')) orphans.push(`${file}:${i + 1}`);
    }
  }
  return orphans;
}

const markdownFiles = () => [
  'README.md',
  'DEVELOPERS.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

describe('markdown tables in the docs', () => {
  it('the check finds a row cut off from its table by a paragraph', () => {
    const broken = ['| code | status |', '| --- | --- |', '| a | 1 |', '', 'A paragraph.', '| b | 2 |', '| c | 3 |'].join('\n');
    expect(orphanRows('x.md', broken)).toEqual(['x.md:6']);
    expect(orphanRows('x.md', ['| code | status |', '| --- | --- |', '| a | 1 |', '| b | 2 |'].join('\n'))).toEqual([]);
  });

  it('every table row in README.md, DEVELOPERS.md and docs/*.md is part of a table', () => {
    const orphans = markdownFiles().flatMap((f) => orphanRows(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(orphans).toEqual([]);
  });
});
