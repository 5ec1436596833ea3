// Watched folders, study by study: what settles, when, and only once. Real chokidar, real timers
// (small intervals), real files written the way a slow copy writes them.
import { mkdtemp, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { applyAfterDelivery } from '../../../src/core/watch/after-delivery.js';
import { FolderWatcher } from '../../../src/core/watch/folder-watcher.js';
import { WatchedFolderConfigError } from '../../../src/core/watch/watched-folder-config.js';
import { copySlowly, expectedFiles, idle, readSpy, stageStudy, until, WatchHarness, withoutMtime, writeInPieces } from './watch-fixtures.js';

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

describe('watching a folder: studies', () => {
  it('a study copied in slowly, file by file, settles once and complete; no file is read before it is whole', async () => {
    const study = await stageStudy(staging, { instances: 6, series: 2 });
    const spy = readSpy();
    const { folder, watcher, recorder } = await watched({}, { readHeader: spy.readHeader });

    await copySlowly(study, join(folder, 'CT'));
    await until(() => recorder.count('study-settled') === 1, 'the study to settle');
    await idle(watcher, recorder);

    const settled = recorder.of('study-settled');
    expect(settled).toHaveLength(1);
    expect(settled[0]!.studyInstanceUid).toBe(study.studyInstanceUid);
    expect(settled[0]!.folder).toBe(folder);
    expect(withoutMtime(settled[0]!.files)).toEqual(expectedFiles(study, join(folder, 'CT')));
    for (const file of settled[0]!.files) expect(file.mtimeMs).toBe((await stat(file.path)).mtimeMs);
    // Every read saw the whole file: the half-written first halves were never read.
    const sizes = new Map(expectedFiles(study, join(folder, 'CT')).map((file) => [file.path, file.size]));
    expect(spy.reads.length).toBeGreaterThanOrEqual(6);
    for (const read of spy.reads) expect(read.size, read.path).toBe(sizes.get(read.path));
    expect(recorder.count('file-skipped')).toBe(0);

    // Moving the delivered files away leaves nothing in memory.
    const moved = await applyAfterDelivery({ path: folder, afterDelivery: 'move', doneFolder: `${folder}-done` }, settled[0]!.files);
    expect(moved.every((result) => result.outcome === 'moved')).toBe(true);
    await until(() => watcher.status().knownFiles === 0, 'moved files to be forgotten');
    expect(recorder.count('study-settled')).toBe(1);
  });

  it('two studies in one folder settle separately', async () => {
    const [a, b] = await Promise.all([stageStudy(staging, { instances: 3 }), stageStudy(staging, { instances: 4, series: 2 })]);
    const { folder, watcher, recorder } = await watched();

    // Interleaved, as a modality exporting two studies at once would write them.
    for (let i = 0; i < 4; i++) {
      for (const [study, sub] of [[a!, 'A'], [b!, 'B']] as const) {
        const instance = study.instances[i];
        if (instance) await writeInPieces(join(folder, sub, instance.relPath), instance.bytes, 2, 20);
      }
    }
    await until(() => recorder.count('study-settled') === 2, 'both studies to settle');
    await idle(watcher, recorder);

    const settled = recorder.of('study-settled');
    expect(settled).toHaveLength(2);
    const byStudy = new Map(settled.map((event) => [event.studyInstanceUid, withoutMtime(event.files)]));
    expect(byStudy.get(a!.studyInstanceUid)).toEqual(expectedFiles(a!, join(folder, 'A')));
    expect(byStudy.get(b!.studyInstanceUid)).toEqual(expectedFiles(b!, join(folder, 'B')));
  });

  it('works with the polling backend', async () => {
    const study = await stageStudy(staging, { instances: 4, series: 2 });
    const { folder, watcher, recorder } = await watched({ usePolling: true });
    expect(watcher.config.usePolling).toBe(true);

    await copySlowly(study, folder);
    await until(() => recorder.count('study-settled') === 1, 'the study to settle');
    await idle(watcher, recorder);
    expect(recorder.of('study-settled')).toHaveLength(1);
    expect(recorder.of('study-settled')[0]!.files.map(({ path, sopInstanceUid, size }) => ({ path, sopInstanceUid, size }))).toEqual(expectedFiles(study, folder));
    // The walk, not a notification, may have found some; either way each file is counted once.
    expect(watcher.status().knownFiles).toBe(4);
  });

  it('settles later instances of a settled study on their own, without the ones already handed on; a file deleted before settling is left out', async () => {
    const study = await stageStudy(staging, { instances: 2 });
    const { folder, watcher, recorder } = await watched();
    await copySlowly(study, join(folder, 'first'));
    await until(() => recorder.count('study-settled') === 1, 'the first settle');

    const more = await stageStudy(staging, { instances: 3, studyInstanceUid: study.studyInstanceUid });
    await copySlowly(more, join(folder, 'later'));
    const [kept1, gone, kept2] = more.instances;
    await until(() => watcher.status().settling[0]?.instances === 3, 'the later files to be read');
    await unlink(join(folder, 'later', gone!.relPath));
    await until(() => recorder.count('study-settled') === 2, 'the second settle');
    await idle(watcher, recorder);

    const [, second] = recorder.of('study-settled');
    expect(second!.studyInstanceUid).toBe(study.studyInstanceUid);
    expect(second!.files.map((file) => file.sopInstanceUid).sort()).toEqual([kept1!.sopInstanceUid, kept2!.sopInstanceUid].sort());
    expect(recorder.count('study-settled')).toBe(2);
  });

  it('refuses an invalid configuration with every problem named', () => {
    expect(() => new FolderWatcher({ path: 'relative', serviceLevel: 'STAT', afterDelivery: 'move' })).toThrow(WatchedFolderConfigError);
    try {
      new FolderWatcher({ path: 'relative', serviceLevel: 'STAT', afterDelivery: 'move' });
    } catch (error) {
      expect((error as WatchedFolderConfigError).code).toBe('INVALID_REQUEST');
      expect((error as WatchedFolderConfigError).problems).toHaveLength(2);
    }
  });
});
