// Generated tables in docs/BENCHMARKS.md live between `<!-- NAME:start ... -->` and `<!-- NAME:end -->`
// markers: a run replaces its own section and leaves the hand-written text around it alone.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const BENCHMARKS_DOC = join(import.meta.dirname, '..', 'docs', 'BENCHMARKS.md');

/**
 * Puts `section` (which starts with `<!-- NAME:start` and ends with `<!-- NAME:end -->`) in place of
 * the document's section of that name, or appends it under `heading` when the document has none.
 */
export async function replaceBenchmarksSection(name: string, section: string, heading: string): Promise<void> {
  const doc = await readFile(BENCHMARKS_DOC, 'utf8');
  const endMarker = `<!-- ${name}:end -->`;
  const start = doc.indexOf(`<!-- ${name}:start`);
  const end = doc.indexOf(endMarker);
  const next = start >= 0 && end > start
    ? doc.slice(0, start) + section + doc.slice(end + endMarker.length)
    : `${doc.trimEnd()}\n\n## ${heading}\n\n${section}\n`;
  await writeFile(BENCHMARKS_DOC, next);
}
