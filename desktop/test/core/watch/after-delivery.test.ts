import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { applyAfterDelivery, withSuffix } from '../../../src/core/watch/after-delivery.js';

let workDir: string;
let watched: string;
let done: string;
let round = 0;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-after-delivery-'));
});
beforeEach(async () => {
  round++;
  watched = join(workDir, `watched-${round}`);
  done = join(workDir, `done-${round}`);
  await mkdir(join(watched, 'CT', 'S001'), { recursive: true });
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function file(rel: string, content: string): Promise<{ path: string }> {
  const path = join(watched, rel);
  await writeFile(path, content);
  return { path };
}

const exists = (path: string) => stat(path).then(() => true, () => false);

describe('after confirmed delivery', () => {
  it('keeps files where they are', async () => {
    const files = [await file('CT/S001/IM1.dcm', 'one'), await file('IM2', 'two')];
    expect(await applyAfterDelivery({ path: watched, afterDelivery: 'keep' }, files)).toEqual(files.map(({ path }) => ({ path, outcome: 'kept' })));
    for (const { path } of files) expect(await exists(path)).toBe(true);
  });

  it('moves files to the done folder, keeping their relative paths and making the folders', async () => {
    const files = [await file('CT/S001/IM1.dcm', 'one'), await file('IM2', 'two')];
    const results = await applyAfterDelivery({ path: watched, afterDelivery: 'move', doneFolder: done }, files);
    expect(results).toEqual([
      { path: files[0]!.path, outcome: 'moved', movedTo: join(done, 'CT', 'S001', 'IM1.dcm') },
      { path: files[1]!.path, outcome: 'moved', movedTo: join(done, 'IM2') },
    ]);
    expect(await readFile(join(done, 'CT', 'S001', 'IM1.dcm'), 'utf8')).toBe('one');
    expect(await readFile(join(done, 'IM2'), 'utf8')).toBe('two');
    for (const { path } of files) expect(await exists(path)).toBe(false);
  });

  it('never replaces a file already in the done folder: the newcomer gets the next free suffix', async () => {
    await mkdir(join(done, 'CT', 'S001'), { recursive: true });
    await writeFile(join(done, 'CT', 'S001', 'IM1.dcm'), 'earlier');
    await writeFile(join(done, 'CT', 'S001', 'IM1_2.dcm'), 'earlier 2');
    await writeFile(join(done, '1.2.840.1'), 'earlier uid');
    const files = [await file('CT/S001/IM1.dcm', 'new'), await file('1.2.840.1', 'new uid')];

    const results = await applyAfterDelivery({ path: watched, afterDelivery: 'move', doneFolder: done }, files);
    expect(results.map((result) => result.movedTo)).toEqual([join(done, 'CT', 'S001', 'IM1_3.dcm'), join(done, '1.2.840.1_2')]);
    expect(await readFile(join(done, 'CT', 'S001', 'IM1.dcm'), 'utf8')).toBe('earlier');
    expect(await readFile(join(done, 'CT', 'S001', 'IM1_2.dcm'), 'utf8')).toBe('earlier 2');
    expect(await readFile(join(done, 'CT', 'S001', 'IM1_3.dcm'), 'utf8')).toBe('new');
    expect(await readFile(join(done, '1.2.840.1'), 'utf8')).toBe('earlier uid');
    expect(await readFile(join(done, '1.2.840.1_2'), 'utf8')).toBe('new uid');
  });

  it('two folders moving the same names into one done folder at once never overwrite each other', async () => {
    const other = join(workDir, `other-${round}`);
    await mkdir(other, { recursive: true });
    const mine = await Promise.all(Array.from({ length: 10 }, (_, i) => file(`IM${i}`, `mine ${i}`)));
    const theirs = await Promise.all(Array.from({ length: 10 }, async (_, i) => {
      await writeFile(join(other, `IM${i}`), `theirs ${i}`);
      return { path: join(other, `IM${i}`) };
    }));
    const [a, b] = await Promise.all([
      applyAfterDelivery({ path: watched, afterDelivery: 'move', doneFolder: done }, mine),
      applyAfterDelivery({ path: other, afterDelivery: 'move', doneFolder: done }, theirs),
    ]);
    expect([...a!, ...b!].every((result) => result.outcome === 'moved')).toBe(true);
    const contents = await Promise.all((await readdir(done)).map((name) => readFile(join(done, name), 'utf8')));
    expect(contents.sort()).toEqual([...Array.from({ length: 10 }, (_, i) => `mine ${i}`), ...Array.from({ length: 10 }, (_, i) => `theirs ${i}`)].sort());
  });

  it('deletes files', async () => {
    const files = [await file('CT/S001/IM1.dcm', 'one'), await file('IM2', 'two')];
    expect(await applyAfterDelivery({ path: watched, afterDelivery: 'delete' }, files)).toEqual(files.map(({ path }) => ({ path, outcome: 'deleted' })));
    for (const { path } of files) expect(await exists(path)).toBe(false);
  });

  it('reports a failure per file and carries on with the rest', async () => {
    const present = await file('IM1', 'one');
    const missing = { path: join(watched, 'IM-gone') };
    const outside = { path: join(workDir, 'elsewhere.dcm') };
    await writeFile(outside.path, 'not ours');
    for (const afterDelivery of ['move', 'delete'] as const) {
      const results = await applyAfterDelivery({ path: watched, afterDelivery, doneFolder: done }, [missing, outside, present]);
      expect(results[0]).toEqual({ path: missing.path, outcome: 'failed', code: 'FILE_UNREADABLE', reason: 'the file was no longer there' });
      expect(results[1]).toEqual({ path: outside.path, outcome: 'failed', code: 'INVALID_REQUEST', reason: 'the file is not inside the watched folder' });
      expect(results[2]!.outcome).toBe(afterDelivery === 'move' ? 'moved' : 'failed'); // moved by the first round, gone for the second
    }
    expect(await readFile(outside.path, 'utf8')).toBe('not ours');
  });

  it('refuses to move without a done folder, or into the watched folder', async () => {
    const files = [await file('IM1', 'one')];
    expect(await applyAfterDelivery({ path: watched, afterDelivery: 'move' }, files))
      .toEqual([{ path: files[0]!.path, outcome: 'failed', code: 'INVALID_REQUEST', reason: 'no done folder is set for "move"' }]);
    expect(await applyAfterDelivery({ path: watched, afterDelivery: 'move', doneFolder: join(watched, 'done') }, files))
      .toEqual([{ path: files[0]!.path, outcome: 'failed', code: 'INVALID_REQUEST', reason: 'the done folder and the watched folder overlap' }]);
    expect(await exists(files[0]!.path)).toBe(true);
  });

  it('names suffixed copies before a real extension only', () => {
    expect(withSuffix(join('d', 'IM1.dcm'), 2)).toBe(join('d', 'IM1_2.dcm'));
    expect(withSuffix(join('d', 'IM00001'), 3)).toBe(join('d', 'IM00001_3'));
    expect(withSuffix(join('d', '1.2.840.113619.2.55.3'), 2)).toBe(join('d', '1.2.840.113619.2.55.3_2'));
    expect(withSuffix(join('d', '1.2.840.113619.dcm'), 2)).toBe(join('d', '1.2.840.113619_2.dcm'));
  });
});

describe('after confirmed delivery, done folder on another file system', async () => {
  // /dev/shm is a separate tmpfs on Linux: a hard link across it fails with EXDEV, as a done folder on another drive would.
  const shm = '/dev/shm';
  const crossDevice = await stat(shm).then(async (s) => s.isDirectory() && s.dev !== (await stat(tmpdir())).dev, () => false);

  it.skipIf(!crossDevice)('copies without overwriting, then removes the original', async () => {
    const otherDone = await mkdtemp(join(shm, 'relaypacs-done-'));
    try {
      await writeFile(join(otherDone, 'IM1'), 'earlier');
      const files = [await file('IM1', 'new')];
      const results = await applyAfterDelivery({ path: watched, afterDelivery: 'move', doneFolder: otherDone }, files);
      expect(results).toEqual([{ path: files[0]!.path, outcome: 'moved', movedTo: join(otherDone, 'IM1_2') }]);
      expect(await readFile(join(otherDone, 'IM1'), 'utf8')).toBe('earlier');
      expect(await readFile(join(otherDone, 'IM1_2'), 'utf8')).toBe('new');
      expect(await exists(files[0]!.path)).toBe(false);
    } finally {
      await rm(otherDone, { recursive: true, force: true });
    }
  });
});
