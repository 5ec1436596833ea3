// A watched share that disappears and comes back, simulated by renaming the watched folder away and
// back: to the watcher that is exactly a dropped SMB/NFS mount (the path stops existing, then the
// same files and more reappear). Run with OS notifications and with polling.
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { folderSource } from '../../../src/core/import/folder-source.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FolderWatcher } from '../../../src/core/watch/folder-watcher.js';
import { copySlowly, fastConfig, idle, stageStudy, until, WatchRecorder } from './watch-fixtures.js';

let workDir: string;
let staging: string;
let watcher: FolderWatcher | undefined;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-watch-share-'));
  staging = join(workDir, 'staging');
});
afterEach(async () => {
  await watcher?.stop();
  watcher = undefined;
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function allFiles(root: string): Promise<string[]> {
  const paths: string[] = [];
  for await (const item of folderSource(root)) if (item.kind === 'file') paths.push(item.file.path);
  return paths.sort();
}

describe.each([
  { backend: 'OS notifications', usePolling: false },
  { backend: 'polling', usePolling: true },
])('a watched share removed and restored ($backend)', ({ usePolling }) => {
  it('misses nothing and hands nothing on twice', async () => {
    const folder = join(workDir, `share-${usePolling ? 'polled' : 'notified'}`);
    const away = `${folder}-away`;
    await mkdir(folder, { recursive: true });
    const [x, y, z] = await Promise.all([
      stageStudy(staging, { instances: 3 }),
      stageStudy(staging, { instances: 4, series: 2 }),
      stageStudy(staging, { instances: 3 }),
    ]);
    const laterX = await stageStudy(staging, { instances: 2, studyInstanceUid: x!.studyInstanceUid });
    watcher = new FolderWatcher(fastConfig(folder, { usePolling }));
    const recorder = new WatchRecorder(watcher);
    await watcher.start();

    // X arrives and settles while the share is up.
    await copySlowly(x!, join(folder, 'X'));
    await until(() => recorder.count('study-settled') === 1, 'X to settle');

    // Half of Y arrives; the share drops while Y waits to settle.
    const yFirstHalf = { ...y!, instances: y!.instances.slice(0, 2) };
    const ySecondHalf = { ...y!, instances: y!.instances.slice(2) };
    await copySlowly(yFirstHalf, join(folder, 'Y'), 10, 10);
    await until(() => watcher!.status().settling.some((study) => study.studyInstanceUid === y!.studyInstanceUid && study.instances === 2), 'the first half of Y to be read');
    await rename(folder, away);
    await until(() => recorder.count('folder-unavailable') === 1, 'the share to be noticed gone');
    expect(watcher.status().available).toBe(false);

    // While it is away, the rest of Y, a new study Z and two more instances of X land on it.
    await copySlowly(ySecondHalf, join(away, 'Y'), 10, 10);
    await copySlowly(z!, join(away, 'Z'), 10, 10);
    await copySlowly(laterX, join(away, 'X-later'), 10, 10);
    await rename(away, folder);

    await until(() => recorder.count('folder-available') === 1, 'the share to be noticed back');
    await until(() => recorder.count('study-settled') === 4, 'Y, Z and the rest of X to settle');
    await idle(watcher, recorder);

    const settled = recorder.of('study-settled');
    expect(settled).toHaveLength(4);
    // Nothing missed, nothing twice: the settled files are exactly the files on the share.
    const handedOn = settled.flatMap((event) => event.files.map((file) => file.path)).sort();
    expect(handedOn).toEqual(await allFiles(folder));
    expect(new Set(handedOn).size).toBe(handedOn.length);
    // Y settled once, whole, though half of it arrived while the share was away.
    const ys = settled.filter((event) => event.studyInstanceUid === y!.studyInstanceUid);
    expect(ys).toHaveLength(1);
    expect(ys[0]!.files.map((file) => file.sopInstanceUid).sort()).toEqual(y!.instances.map((instance) => instance.sopInstanceUid).sort());
    // X settled twice: first its own three, then only the two new ones.
    const xs = settled.filter((event) => event.studyInstanceUid === x!.studyInstanceUid);
    expect(xs.map((event) => event.files.length)).toEqual([3, 2]);
    expect(xs[1]!.files.map((file) => file.sopInstanceUid).sort()).toEqual(laterX.instances.map((instance) => instance.sopInstanceUid).sort());
    expect(recorder.count('file-skipped')).toBe(0);
    expect(recorder.count('folder-unavailable')).toBe(1);
  });
});

describe('a watched share that is not there at start', () => {
  it('says so, then takes what it holds once it appears', async () => {
    const folder = join(workDir, 'not-mounted-yet');
    const study = await stageStudy(staging, { instances: 2 });
    watcher = new FolderWatcher(fastConfig(folder));
    const recorder = new WatchRecorder(watcher);
    await watcher.start();
    expect(recorder.of('folder-unavailable')).toEqual([{ folder, reason: expect.stringContaining('not there') as string }]);
    expect(watcher.status()).toMatchObject({ running: true, available: false, knownFiles: 0 });

    const mounting = `${folder}-mounting`;
    await copySlowly(study, mounting, 0, 0);
    await rename(mounting, folder);
    await until(() => recorder.count('folder-available') === 1 && recorder.count('study-settled') === 1, 'the folder and its study');
    await idle(watcher, recorder);
    expect(recorder.of('study-settled')[0]!.files.map((file) => file.path).sort()).toEqual(await allFiles(folder));
    expect(recorder.count('study-settled')).toBe(1);
  });
});
