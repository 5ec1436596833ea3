// Watched folders, file by file: what is read, when, and what is skipped or ignored.
import { appendFile, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { idle, readSpy, sleep, stageStudy, until, WatchHarness, writeInPieces } from './watch-fixtures.js';

let workDir: string;
let staging: string;
const harness = new WatchHarness(() => workDir);
const watched = harness.watched.bind(harness);

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-watch-'));
  staging = join(workDir, 'staging');
});
afterEach(() => harness.stopAll());
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

describe('watching a folder: files', () => {
  it('skips a non-DICOM file once per content, ignores hidden and temporary names, and takes a .part file once renamed', async () => {
    const study = await stageStudy(staging, { instances: 2 });
    const { folder, watcher, recorder } = await watched();
    const notes = join(folder, 'notes.txt');
    const [first, second] = study.instances;

    await writeFile(notes, 'not an image\n');
    await writeFile(join(folder, '.DS_Store'), 'hidden');
    await writeFile(join(folder, '~lock.dcm'), first!.bytes);
    await mkdir(join(folder, '.cache'));
    await writeFile(join(folder, '.cache', 'copy.dcm'), first!.bytes);
    await writeFile(join(folder, 'IM1.dcm'), first!.bytes);
    // A copy tool writes name.part and renames it when done.
    await writeFile(join(folder, 'IM2.dcm.part'), second!.bytes);
    await sleep(400);
    await rename(join(folder, 'IM2.dcm.part'), join(folder, 'IM2.dcm'));

    await until(() => recorder.count('study-settled') === 1 && recorder.count('file-skipped') === 1, 'the settle and the skip');
    await idle(watcher, recorder);
    expect(recorder.of('file-skipped')).toEqual([{ folder, path: notes, code: 'FILE_NOT_DICOM', reason: expect.any(String) as string }]);
    expect(recorder.of('study-settled')[0]!.files.map((file) => file.path)).toEqual([join(folder, 'IM1.dcm'), join(folder, 'IM2.dcm')]);

    // New content is a new judgement: skipped again, once.
    await appendFile(notes, 'more text\n');
    await until(() => recorder.count('file-skipped') === 2, 'the changed file to be judged again');
    await idle(watcher, recorder);
    expect(recorder.count('file-skipped')).toBe(2);
    expect(recorder.count('study-settled')).toBe(1);
  });

  it('does not read a file that keeps growing until it has held still', async () => {
    const study = await stageStudy(staging, { instances: 1, rows: 128, columns: 128 });
    const spy = readSpy();
    const { folder, watcher, recorder } = await watched({}, { readHeader: spy.readHeader });
    const instance = study.instances[0]!;
    const path = join(folder, instance.relPath);

    // 16 pieces, 70 ms apart: a second of writing, over three times the stability time.
    await writeInPieces(path, instance.bytes, 16, 70);
    const finishedAt = Date.now();
    await until(() => recorder.count('study-settled') === 1, 'the study to settle');
    await idle(watcher, recorder);

    expect(spy.reads.length).toBeGreaterThanOrEqual(1);
    for (const read of spy.reads) expect(read.size).toBe(instance.bytes.length);
    expect(recorder.of('study-settled')[0]!.files).toEqual([{ path, sopInstanceUid: instance.sopInstanceUid, size: instance.bytes.length, mtimeMs: (await stat(path)).mtimeMs }]);
    expect(Date.now() - finishedAt).toBeGreaterThanOrEqual(800);
  });

  it('holds back a file whose copy stalled inside the image data, and takes it once it is whole', async () => {
    const study = await stageStudy(staging, { instances: 2, rows: 64, columns: 64 });
    const spy = readSpy();
    const { folder, watcher, recorder } = await watched({}, { readHeader: spy.readHeader });
    const [whole, stalled] = study.instances;
    await writeInPieces(join(folder, whole!.relPath), whole!.bytes, 1, 0);

    // The header is complete in the first 60%: only the completeness check can tell it is cut short.
    const path = join(folder, stalled!.relPath);
    const cut = Math.floor(stalled!.bytes.length * 0.6);
    await writeFile(path, stalled!.bytes.subarray(0, cut));
    await until(() => spy.reads.some((read) => read.path === path), 'the stalled file to be read');
    await sleep(1_200); // longer than the quiet period: the study must still not settle
    expect(recorder.count('study-settled')).toBe(0);
    expect(watcher.status()).toMatchObject({ waitingForStability: 1, settling: [{ studyInstanceUid: study.studyInstanceUid, instances: 1 }] });

    await appendFile(path, stalled!.bytes.subarray(cut));
    await until(() => recorder.count('study-settled') === 1, 'the study to settle');
    await idle(watcher, recorder);
    expect(recorder.of('study-settled')[0]!.files.map((file) => [file.path, file.size]).sort()).toEqual(
      [[join(folder, whole!.relPath), whole!.bytes.length], [path, stalled!.bytes.length]].sort());
    expect(recorder.count('file-skipped')).toBe(0);
  });

  it('gives up on a file that stays cut short, once', async () => {
    const study = await stageStudy(staging, { instances: 1 });
    const { folder, watcher, recorder } = await watched({}, { maxIncompleteWaitMs: 700 });
    const instance = study.instances[0]!;
    const path = join(folder, 'cut.dcm');
    await writeFile(path, instance.bytes.subarray(0, Math.floor(instance.bytes.length * 0.7)));

    await until(() => recorder.count('file-skipped') === 1, 'the cut file to be skipped');
    await idle(watcher, recorder);
    expect(recorder.of('file-skipped')).toEqual([{ folder, path, code: 'FILE_TRUNCATED', reason: expect.stringContaining('gave up') as string }]);
    expect(recorder.count('study-settled')).toBe(0);
  });
});
