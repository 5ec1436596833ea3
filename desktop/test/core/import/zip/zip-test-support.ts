import { createWriteStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import yazl from 'yazl';
import type { CandidateFile, ImportSource, SkippedInput, SourceItem } from '../../../../src/core/import/import-source.js';

export async function collect(source: ImportSource): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const item of source) items.push(item);
  return items;
}

export function filesOf(items: readonly SourceItem[]): CandidateFile[] {
  return items.flatMap((item) => (item.kind === 'file' ? [item.file] : []));
}

export function skippedOf(items: readonly SourceItem[]): SkippedInput[] {
  return items.flatMap((item) => (item.kind === 'skipped' ? [item.skipped] : []));
}

/** Builds an archive with yazl, the way a well-behaved tool would. */
export async function yazlZip(path: string, add: (zip: yazl.ZipFile) => void, end: Partial<yazl.EndOptions> = {}): Promise<void> {
  const zip = new yazl.ZipFile();
  add(zip);
  zip.end({ forceZip64Format: false, comment: '', ...end });
  await pipeline(zip.outputStream, createWriteStream(path));
}

/** Every file under `dir`, relative to it (an absent folder has none). */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => !e.isDirectory()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** Peak growth of the resident set while `run` runs, sampled every few milliseconds. */
export async function peakRssGrowth(run: () => Promise<void>): Promise<number> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()); }, 5);
  try {
    await run();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, process.memoryUsage.rss()) - base;
}

/** Open descriptors of this process (Linux). */
export async function openFdCount(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}
