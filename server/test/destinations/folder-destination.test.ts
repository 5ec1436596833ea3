import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { generateStudy, type GeneratedInstance, type GeneratedStudy } from '@relaypacs/testkit';
import { TransientDestinationError, type StudyContext } from '../../src/forward/destination.js';
import { FolderDestination } from '../../src/destinations/folder-destination.js';
import { describeDestinationContract, instanceToSend, studyContext } from './destination-contract.js';

let workDir: string;
let generated: GeneratedStudy;
let target: string;
let destination: FolderDestination;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-folder-test-'));
  generated = await generateStudy(join(workDir, 'source'), { instances: 4, series: 2, rows: 32, columns: 32 });
});

afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

beforeEach(async () => {
  target = await mkdtemp(join(workDir, 'target-'));
  destination = new FolderDestination({ name: 'local-folder', directory: join(target, 'received') });
});

function context(studyInstanceUid = generated.studyInstanceUid): StudyContext {
  return studyContext(studyInstanceUid);
}

function storedPath(instance: { sopInstanceUid: string }, studyUid = generated.studyInstanceUid): string {
  return join(target, 'received', studyUid, `${instance.sopInstanceUid}.dcm`);
}

/** Every name under a directory, hidden ones included, relative to it. */
async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map(String).sort();
}

describe('FolderDestination', () => {
  it('writes each instance to <directory>/<study>/<sop>.dcm, byte for byte, leaving no temporary files', async () => {
    expect(destination.kind).toBe('folder');
    const outcomes = await destination.store(context(), generated.instances.map((i) => instanceToSend(i)));
    expect([...outcomes.entries()]).toEqual(generated.instances.map((i) => [i.sopInstanceUid, { status: 'stored' }]));
    for (const instance of generated.instances) {
      expect((await readFile(storedPath(instance))).equals(await readFile(instance.path))).toBe(true);
    }
    expect(await listAll(join(target, 'received'))).toEqual([
      generated.studyInstanceUid,
      ...generated.instances.map((i) => join(generated.studyInstanceUid, `${i.sopInstanceUid}.dcm`)).sort(),
    ].sort());
  });

  it('never shows a partial file under the final name: a source that fails midway leaves nothing', async () => {
    const [instance] = generated.instances as [GeneratedInstance];
    const bytes = await readFile(instance.path);
    const failing = instanceToSend(instance, {
      open: () => Readable.from((async function* () {
        yield bytes.subarray(0, 1000);
        throw new Error('storage went away');
      })()),
    });
    const outcomes = await destination.store(context(), [failing]);
    expect(outcomes.get(instance.sopInstanceUid)).toMatchObject({ status: 'failed', permanent: false, reason: expect.stringContaining('storage went away') });
    // Neither the final name nor a leftover temporary file.
    expect(await listAll(join(target, 'received'))).toEqual([generated.studyInstanceUid]);
    // And the next attempt succeeds.
    const retried = await destination.store(context(), [instanceToSend(instance)]);
    expect(retried.get(instance.sopInstanceUid)).toEqual({ status: 'stored' });
    expect((await readFile(storedPath(instance))).equals(bytes)).toBe(true);
  });

  it('counts an identical instance that is already there as stored, with a warning', async () => {
    const instances = generated.instances.map((i) => instanceToSend(i));
    await destination.store(context(), instances);
    const before = await stat(storedPath(generated.instances[0]!));
    const again = await destination.store(context(), instances);
    for (const instance of generated.instances) {
      expect(again.get(instance.sopInstanceUid)).toEqual({ status: 'stored', warning: expect.stringContaining('already present') });
    }
    // Left alone, not rewritten.
    expect((await stat(storedPath(generated.instances[0]!))).mtimeMs).toBe(before.mtimeMs);
  });

  it('refuses to replace a different instance with the same SOP Instance UID', async () => {
    const [first, second] = generated.instances as [GeneratedInstance, GeneratedInstance];
    await destination.store(context(), [instanceToSend(first)]);
    // Another file claiming the first one's SOP Instance UID.
    const impostor = instanceToSend(second, { sopInstanceUid: first.sopInstanceUid });
    const outcomes = await destination.store(context(), [impostor]);
    expect(outcomes.get(first.sopInstanceUid)).toEqual({
      status: 'failed',
      permanent: true,
      reason: 'a different instance with this SOP Instance UID is already there',
    });
    expect((await readFile(storedPath(first))).equals(await readFile(first.path))).toBe(true);
    expect(await listAll(join(target, 'received', generated.studyInstanceUid))).toEqual([`${first.sopInstanceUid}.dcm`]);
  });

  it.each([
    ['a parent directory', '../../escaped'],
    ['an absolute path', '/tmp/escaped'],
    ['a dot', '.'],
    ['a path separator', '1.2/3.4'],
    ['letters', '1.2.abc'],
    ['an empty component', '1..2'],
    ['more than 64 characters', `1.${'2'.repeat(64)}`],
  ])('refuses a SOP Instance UID with %s as a file name', async (_what, uid) => {
    const [instance] = generated.instances as [GeneratedInstance];
    const outcomes = await destination.store(context(), [instanceToSend(instance, { sopInstanceUid: uid })]);
    expect(outcomes.get(uid)).toMatchObject({ status: 'failed', permanent: true, reason: expect.stringContaining('not a valid UID') });
    expect(await listAll(target)).toEqual(['received', join('received', generated.studyInstanceUid)]);
  });

  it.each(['../../escaped', '/tmp/escaped', '..', '1.2.840/..'])('refuses Study Instance UID %j as a folder name', async (studyUid) => {
    const outcomes = await destination.store(context(studyUid), generated.instances.map((i) => instanceToSend(i)));
    for (const instance of generated.instances) {
      expect(outcomes.get(instance.sopInstanceUid)).toMatchObject({ status: 'failed', permanent: true, reason: expect.stringContaining('not a valid UID') });
    }
    expect(await listAll(target)).toEqual([]);
  });

  it('confirms the instances whose files are there with the right size', async () => {
    const [first, second, third] = generated.instances as [GeneratedInstance, GeneratedInstance, GeneratedInstance];
    await destination.store(context(), [instanceToSend(first), instanceToSend(second)]);
    // A file truncated behind the relay's back is not confirmed.
    await writeFile(storedPath(second), (await readFile(second.path)).subarray(0, 100));
    const held = await destination.confirm(context(), [first.sopInstanceUid, second.sopInstanceUid, third.sopInstanceUid, '../../etc/passwd']);
    expect([...held]).toEqual([first.sopInstanceUid]);
  });

  it('confirms files written before a restart by their Part 10 prefix', async () => {
    const [first] = generated.instances as [GeneratedInstance];
    await destination.store(context(), [instanceToSend(first)]);
    const restarted = new FolderDestination({ name: 'local-folder', directory: join(target, 'received') });
    expect([...(await restarted.confirm(context(), [first.sopInstanceUid]))]).toEqual([first.sopInstanceUid]);
  });

  // Root ignores directory permissions, so this one needs an ordinary user.
  it.skipIf(process.getuid?.() === 0)('throws a TransientDestinationError when the folder may not be written', async () => {
    const locked = join(target, 'locked');
    await mkdir(locked);
    await chmod(locked, 0o500);
    try {
      const blocked = new FolderDestination({ name: 'blocked', directory: join(locked, 'received') });
      await expect(blocked.store(context(), generated.instances.map((i) => instanceToSend(i)))).rejects.toBeInstanceOf(TransientDestinationError);
    } finally {
      await chmod(locked, 0o700);
    }
  });

  it('throws a TransientDestinationError when the folder path is taken by a file', async () => {
    await writeFile(join(target, 'not-a-dir'), 'x');
    const blocked = new FolderDestination({ name: 'blocked', directory: join(target, 'not-a-dir') });
    await expect(blocked.store(context(), generated.instances.map((i) => instanceToSend(i)))).rejects.toBeInstanceOf(TransientDestinationError);
  });
});

describeDestinationContract('Folder destination', async () => {
  const root = await mkdtemp(join(tmpdir(), 'relaypacs-folder-contract-'));
  const directory = join(root, 'received');
  return {
    destination: new FolderDestination({ name: 'folder', directory }),
    // The instance's file, in whichever study folder it landed.
    holds: async (uid) => {
      const studies = await readdir(directory).catch(() => [] as string[]);
      for (const study of studies) {
        const file = await readFile(join(directory, study, `${uid}.dcm`)).catch(() => undefined);
        if (file) return file;
      }
      return undefined;
    },
    // A "folder" whose parent is a plain file: like a missing mount, it cannot be created.
    unreachable: async () => {
      await writeFile(join(root, 'not-a-mount'), '');
      return new FolderDestination({ name: 'nowhere', directory: join(root, 'not-a-mount', 'received') });
    },
    teardown: async () => { await rm(root, { recursive: true, force: true }); },
  };
});
