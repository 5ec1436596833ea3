import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const run = promisify(execFile);

it('streams a 400 MB multi-frame instance to disk in bounded memory', async () => {
  const outDir = await mkdtemp(join(tmpdir(), 'relaypacs-gen-large-'));
  try {
    const frames = 800; // 800 × 512 × 512 × 2 bytes = 400 MiB of pixel data
    const { stdout } = await run(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'fixtures/generate-large-multiframe.ts'), outDir, String(frames)]);
    const report = JSON.parse(stdout) as { size: number; maxRssBytes: number };
    expect(report.size).toBeGreaterThan(frames * 512 * 512 * 2);
    // Holding the pixel data would need > 400 MiB; streaming needs a few frames plus Node itself.
    expect(report.maxRssBytes).toBeLessThan(200 * 1024 * 1024);
  } finally {
    await rm(outDir, { recursive: true, force: true });
  }
}, 120_000);
