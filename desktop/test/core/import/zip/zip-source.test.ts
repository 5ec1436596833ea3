import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, open, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_ZIP_LIMITS, zipSource } from '../../../../src/core/import/zip/zip-source.js';
import { deflatedEntry, deflatedZerosEntry, storedEntry, writeZip, zerosEntry, type ZipEntrySpec } from './zip-builder.js';
import { collect, filesOf, filesUnder, openFdCount, peakRssGrowth, skippedOf, yazlZip } from './zip-test-support.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

let shared: string;
let work: string;
let tempDir: string;
/** Three real Part 10 instances, made once. */
let studyFiles: { path: string; entry: string }[];

beforeAll(async () => {
  shared = await mkdtemp(join(tmpdir(), 'relaypacs-zip-study-'));
  const study = await generateStudy(join(shared, 'study'), { instances: 3, seed: 11, rows: 64, columns: 64 });
  studyFiles = study.instances.map((instance) => ({ path: instance.path, entry: `CT HEAD/${relative(join(shared, 'study'), instance.path)}` }));
});
afterAll(async () => {
  await rm(shared, { recursive: true, force: true });
});
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'relaypacs-zip-'));
  tempDir = join(work, 'app-temp');
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** 1 GiB of zeros deflated to about 1 MiB: made once (it takes seconds), shared by the bomb tests. */
let gigabyteOfZeros: Promise<ZipEntrySpec> | undefined;
function zerosBomb(name: string): Promise<ZipEntrySpec> {
  gigabyteOfZeros ??= deflatedZerosEntry('bomb', GiB);
  return gigabyteOfZeros.then((entry) => ({ ...entry, name }));
}

async function studyZip(name = 'study.zip'): Promise<string> {
  const path = join(work, name);
  await yazlZip(path, (zip) => {
    for (const file of studyFiles) zip.addFile(file.path, file.entry);
  });
  return path;
}

describe('zipSource: ordinary archives', () => {
  it('unpacks a study byte for byte into the temp area and names each file "archive › entry"', async () => {
    const items = await collect(zipSource(await studyZip(), { tempDir }));

    expect(skippedOf(items)).toEqual([]);
    const files = filesOf(items);
    expect(files.map((f) => f.displayName)).toEqual(studyFiles.map((f) => `study.zip › ${f.entry}`));
    for (const [i, file] of files.entries()) {
      expect(await readFile(file.path)).toEqual(await readFile(studyFiles[i]!.path));
      // A generated name in a new folder of the temp area, never the entry's own path.
      expect(dirname(dirname(file.path))).toBe(tempDir);
      expect(basename(dirname(file.path))).toMatch(/^zip-/);
      expect(basename(file.path)).toMatch(/^\d{6}-IM0000\d\.dcm$/);
    }
  });

  it('walks nested folders, passes over folder entries and keeps files without an extension', async () => {
    const path = join(work, 'cd-export.zip');
    const nested = ['DICOM/', 'DICOM/PAT00001/', 'DICOM/PAT00001/STU00001/', 'DICOM/PAT00001/STU00001/SER00001/'];
    await yazlZip(path, (zip) => {
      for (const folder of nested) zip.addEmptyDirectory(folder);
      studyFiles.forEach((file, i) => zip.addFile(file.path, `DICOM/PAT00001/STU00001/SER00001/IM${i + 1}`));
      zip.addBuffer(Buffer.from('not an image'), 'DICOM/README');
    });

    const items = await collect(zipSource(path, { tempDir }));

    expect(skippedOf(items)).toEqual([]);
    const files = filesOf(items);
    expect(files.map((f) => f.displayName)).toEqual([
      'cd-export.zip › DICOM/PAT00001/STU00001/SER00001/IM1',
      'cd-export.zip › DICOM/PAT00001/STU00001/SER00001/IM2',
      'cd-export.zip › DICOM/PAT00001/STU00001/SER00001/IM3',
      'cd-export.zip › DICOM/README',
    ]);
    expect(basename(files[0]!.path)).toMatch(/^\d{6}-IM1$/);
    expect(await readFile(files[2]!.path)).toEqual(await readFile(studyFiles[2]!.path));
    expect(await readFile(files[3]!.path, 'utf8')).toBe('not an image');
  });

  it('reads ZIP64 records (forced on every entry and on the end of the directory)', async () => {
    const path = join(work, 'zip64.zip');
    await yazlZip(path, (zip) => {
      for (const file of studyFiles) zip.addFile(file.path, file.entry, { forceZip64Format: true });
    }, { forceZip64Format: true });
    const archive = await readFile(path);
    // The test is only worth something if the archive really is ZIP64: end record and locator.
    expect(archive.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true);
    expect(archive.includes(Buffer.from([0x50, 0x4b, 0x06, 0x07]))).toBe(true);

    const files = filesOf(await collect(zipSource(path, { tempDir })));

    expect(files).toHaveLength(3);
    for (const [i, file] of files.entries()) expect(await readFile(file.path)).toEqual(await readFile(studyFiles[i]!.path));
  });

  it('unpacks an archive over 4 GiB: a 4 GiB + 64 KiB entry, then an instance stored past the 4 GiB offset', async () => {
    // The big entry is a hole in a sparse file, so the archive costs almost nothing on disk; only
    // its extracted copy (4 GiB) is written for real, and deleted with the test folder.
    const path = join(work, 'big.zip');
    const dicom = await readFile(studyFiles[0]!.path);
    const bigSize = 4 * GiB + 64 * KiB;
    await writeZip(path, [zerosEntry('padding/zeros.bin', bigSize), deflatedEntry('CT/IM00001.dcm', dicom, { zip64: true })]);
    expect((await stat(path)).size).toBeGreaterThan(4 * GiB);

    let items: Awaited<ReturnType<typeof collect>> = [];
    const growth = await peakRssGrowth(async () => {
      items = await collect(zipSource(path, { tempDir }));
    });

    expect(skippedOf(items)).toEqual([]);
    const files = filesOf(items);
    expect(files.map((f) => f.displayName)).toEqual(['big.zip › padding/zeros.bin', 'big.zip › CT/IM00001.dcm']);
    expect((await stat(files[0]!.path)).size).toBe(bigSize);
    expect(await readFile(files[1]!.path)).toEqual(dicom);
    // Streamed, not buffered: 4 GiB went through with little memory.
    expect(growth).toBeLessThan(256 * MiB);
  }, 120_000);

  it('yields nothing for an empty archive and leaves no folder behind', async () => {
    const path = join(work, 'empty.zip');
    await yazlZip(path, () => {});
    expect(await collect(zipSource(path, { tempDir }))).toEqual([]);
    expect(await filesUnder(tempDir)).toEqual([]);
  });
});

describe('zipSource: unsafe entries are refused one by one', () => {
  it('refuses names that point outside the archive (zip slip) and unpacks the rest', async () => {
    const path = join(work, 'slip.zip');
    const evil = Buffer.from('evil');
    await writeZip(path, [
      storedEntry('../evil.dcm', evil),
      storedEntry('/etc/evil', evil),
      storedEntry('C:\\evil', evil),
      storedEntry('a/../../evil', evil),
      storedEntry('..\\..\\evil', evil),
      storedEntry('\\\\server\\share\\evil', evil),
      storedEntry('ok.dcm', Buffer.from('fine')),
    ]);

    const items = await collect(zipSource(path, { tempDir }));

    expect(skippedOf(items)).toEqual([
      { displayName: 'slip.zip › ../evil.dcm', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/climbs out .*'\.\.'.*zip-slip/) },
      { displayName: 'slip.zip › /etc/evil', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/absolute path/) },
      { displayName: 'slip.zip › C:/evil', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/drive letter/) },
      { displayName: 'slip.zip › a/../../evil', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/climbs out/) },
      { displayName: 'slip.zip › ../../evil', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/climbs out/) },
      { displayName: 'slip.zip › //server/share/evil', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/absolute path/) },
    ]);
    const files = filesOf(items);
    expect(files.map((f) => f.displayName)).toEqual(['slip.zip › ok.dcm']);
    // Nothing was written anywhere but the one good file.
    expect(await filesUnder(work)).toEqual(['app-temp/' + relative(tempDir, files[0]!.path), 'slip.zip']);
  });

  it('refuses symbolic links and device entries', async () => {
    const path = join(work, 'links.zip');
    await writeZip(path, [
      storedEntry('link-to-passwd', Buffer.from('/etc/passwd'), { externalAttributes: (0o120777 << 16) >>> 0 }),
      storedEntry('tty', Buffer.alloc(0), { externalAttributes: (0o020620 << 16) >>> 0 }),
      storedEntry('IM1', Buffer.from('fine')),
    ]);

    const items = await collect(zipSource(path, { tempDir }));

    expect(skippedOf(items)).toEqual([
      { displayName: 'links.zip › link-to-passwd', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/symbolic link/) },
      { displayName: 'links.zip › tty', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/device, pipe or socket/) },
    ]);
    expect(filesOf(items).map((f) => f.displayName)).toEqual(['links.zip › IM1']);
  });

  it('refuses password-protected entries and compression methods it cannot unpack', async () => {
    const path = join(work, 'odd.zip');
    await writeZip(path, [
      storedEntry('secret.dcm', Buffer.concat([randomBytes(12), Buffer.from('ciphertext')]), { flags: 0x1, uncompressedSize: 10 }),
      { ...storedEntry('bzip2.dcm', Buffer.from('BZh91AY&SY')), method: 12 },
      storedEntry('plain.dcm', Buffer.from('fine')),
    ]);

    const items = await collect(zipSource(path, { tempDir }));

    expect(skippedOf(items)).toEqual([
      { displayName: 'odd.zip › secret.dcm', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/password-protected/) },
      { displayName: 'odd.zip › bzip2.dcm', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/BZIP2 \(method 12\)/) },
    ]);
    expect(filesOf(items).map((f) => f.displayName)).toEqual(['odd.zip › plain.dcm']);
  });

  it('shows control and text-direction characters of a name as "?"', async () => {
    const path = join(work, 'names.zip');
    await writeZip(path, [storedEntry('scan\u202Egpj.exe', Buffer.from('x'))]);
    const files = filesOf(await collect(zipSource(path, { tempDir })));
    expect(files.map((f) => f.displayName)).toEqual(['names.zip › scan?gpj.exe']);
  });
});

describe('zipSource: zip bombs stop the archive', () => {
  it('refuses 1 GiB of deflated zeros by its ratio before inflating it, and unpacks nothing after it', async () => {
    const path = join(work, 'bomb.zip');
    const bomb = await zerosBomb('bomb.dcm');
    expect(bomb.data!.length).toBeLessThan(2 * MiB);
    await writeZip(path, [storedEntry('first.dcm', Buffer.from('fine')), bomb, storedEntry('after.dcm', Buffer.from('never read'))]);

    const items = await collect(zipSource(path, { tempDir }));

    expect(filesOf(items).map((f) => f.displayName)).toEqual(['bomb.zip › first.dcm']);
    expect(skippedOf(items)).toEqual([{
      displayName: 'bomb.zip › bomb.dcm',
      code: 'ARCHIVE_REFUSED',
      reason: expect.stringMatching(/more than 200 times its compressed size.*Unpacking stopped here: the 1 remaining entry of the archive was not unpacked/),
    }]);
    expect(await filesUnder(tempDir)).toEqual([relative(tempDir, filesOf(items)[0]!.path)]);
  });

  it('counts what really comes out: a bomb declaring 2 MiB is stopped just past 2 MiB, in bounded memory, and its partial file deleted', async () => {
    const path = join(work, 'liar.zip');
    const bomb = await zerosBomb('liar.dcm');
    // The headers claim a ratio of about 2: nothing to see until the bytes come out.
    await writeZip(path, [{ ...bomb, uncompressedSize: 2 * MiB }, storedEntry('a.dcm', Buffer.from('x')), storedEntry('b.dcm', Buffer.from('y'))]);

    let items: Awaited<ReturnType<typeof collect>> = [];
    const started = Date.now();
    const growth = await peakRssGrowth(async () => {
      items = await collect(zipSource(path, { tempDir }));
    });

    expect(filesOf(items)).toEqual([]);
    expect(skippedOf(items)).toEqual([{
      displayName: 'liar.zip › liar.dcm',
      code: 'ARCHIVE_REFUSED',
      reason: expect.stringMatching(/more than the 2 MiB its header declares.*the 2 remaining entries of the archive were not unpacked/),
    }]);
    expect(await filesUnder(tempDir)).toEqual([]);
    expect(growth).toBeLessThan(128 * MiB);
    // Had the gigabyte been inflated, this would take seconds.
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('refuses entries that share one block of data (an overlapping bomb) by the ratio of the whole archive', async () => {
    // About 1:40 on its own, which passes the per-entry ratio; 30 entries all pointing at it do not.
    const block = Buffer.alloc(8 * MiB);
    for (let offset = 0; offset < block.length; offset += KiB) randomBytes(24).copy(block, offset);
    const path = join(work, 'overlap.zip');
    const kernel = deflatedEntry('slice000.dcm', block);
    await writeZip(path, [kernel, ...Array.from({ length: 29 }, (_, i) => ({ ...kernel, name: `slice${String(i + 1).padStart(3, '0')}.dcm`, sameDataAs: 0 }))]);
    const archiveBytes = (await stat(path)).size;
    expect(block.length / kernel.data!.length).toBeLessThan(DEFAULT_ZIP_LIMITS.maxRatio);
    expect(30 * block.length / archiveBytes).toBeGreaterThan(DEFAULT_ZIP_LIMITS.maxRatio);

    const items = await collect(zipSource(path, { tempDir }));

    const files = filesOf(items);
    expect(files.length).toBeGreaterThan(0);
    expect(files.length * block.length).toBeLessThanOrEqual(DEFAULT_ZIP_LIMITS.maxRatio * archiveBytes);
    expect(skippedOf(items)).toEqual([{
      displayName: `overlap.zip › slice${String(files.length).padStart(3, '0')}.dcm`,
      code: 'ARCHIVE_REFUSED',
      reason: expect.stringMatching(/the archive expands to more than 200 times its own size/),
    }]);
  });

  it('stops at the total-bytes cap', async () => {
    const path = join(work, 'total.zip');
    await writeZip(path, [1, 2, 3, 4].map((i) => storedEntry(`IM${i}`, randomBytes(400 * KiB))));

    const items = await collect(zipSource(path, { tempDir, limits: { maxTotalBytes: MiB } }));

    expect(filesOf(items).map((f) => f.displayName)).toEqual(['total.zip › IM1', 'total.zip › IM2']);
    expect(skippedOf(items)).toEqual([{
      displayName: 'total.zip › IM3',
      code: 'ARCHIVE_REFUSED',
      reason: expect.stringMatching(/more than 1 MiB in all.*the 1 remaining entry of the archive was not unpacked/),
    }]);
  });

  it('stops at the one-entry cap', async () => {
    const path = join(work, 'entry.zip');
    await writeZip(path, [storedEntry('small', randomBytes(10 * KiB)), deflatedEntry('large', randomBytes(300 * KiB))]);

    const items = await collect(zipSource(path, { tempDir, limits: { maxEntryBytes: 256 * KiB } }));

    expect(filesOf(items).map((f) => f.displayName)).toEqual(['entry.zip › small']);
    expect(skippedOf(items)).toEqual([{
      displayName: 'entry.zip › large',
      code: 'ARCHIVE_REFUSED',
      reason: expect.stringMatching(/more than 256 KiB, the limit for one file.*it was the last entry of the archive/),
    }]);
  });

  it('refuses an archive that lists too many entries before unpacking any', async () => {
    const path = join(work, 'many.zip');
    await yazlZip(path, (zip) => {
      zip.addEmptyDirectory('a/');
      for (let i = 0; i < 5; i++) zip.addBuffer(Buffer.from(`file ${i}`), `a/${i}`);
    });

    const items = await collect(zipSource(path, { tempDir, limits: { maxEntries: 5 } }));

    expect(items).toEqual([{ kind: 'skipped', skipped: { displayName: path, code: 'ARCHIVE_REFUSED', reason: 'the archive lists 6 entries, more than the limit of 5; nothing in it was unpacked' } }]);
    expect(await filesUnder(tempDir)).toEqual([]);
    // Exactly at the limit is fine.
    expect(filesOf(await collect(zipSource(path, { tempDir, limits: { maxEntries: 6 } })))).toHaveLength(5);
  });

  it('does not refuse a small, very compressible file for its ratio', async () => {
    const path = join(work, 'header-only.zip');
    const content = Buffer.concat([Buffer.from('DICM'), Buffer.alloc(3 * MiB)]);
    await writeZip(path, [deflatedEntry('header-only.dcm', content)]);

    const files = filesOf(await collect(zipSource(path, { tempDir })));

    expect(files).toHaveLength(1);
    expect(await readFile(files[0]!.path)).toEqual(content);
  });
});

describe('zipSource: broken archives never throw', () => {
  it('reports a missing archive as unreadable', async () => {
    const path = join(work, 'gone.zip');
    expect(await collect(zipSource(path, { tempDir }))).toEqual([
      { kind: 'skipped', skipped: { displayName: path, code: 'FILE_UNREADABLE', reason: 'the archive disappeared before it could be read' } },
    ]);
  });

  it('reports a file that is not a ZIP (a DICOM file renamed, an empty file)', async () => {
    const renamed = join(work, 'image.zip');
    await copyFile(studyFiles[0]!.path, renamed);
    const empty = join(work, 'empty.zip');
    await writeFile(empty, '');

    for (const path of [renamed, empty]) {
      expect(await collect(zipSource(path, { tempDir }))).toEqual([
        { kind: 'skipped', skipped: { displayName: path, code: 'FILE_NOT_DICOM', reason: 'the file is not a ZIP archive' } },
      ]);
    }
  });

  it('reports an archive cut in the middle as truncated', async () => {
    const path = await studyZip('cut.zip');
    await truncate(path, Math.floor((await stat(path)).size / 2));

    expect(await collect(zipSource(path, { tempDir }))).toEqual([
      { kind: 'skipped', skipped: { displayName: path, code: 'FILE_TRUNCATED', reason: expect.stringMatching(/ends early/) } },
    ]);
    expect(await filesUnder(tempDir)).toEqual([]);
  });

  it('keeps the entries before a damaged directory record and reports the rest', async () => {
    const path = join(work, 'damaged.zip');
    await writeZip(path, ['IM1', 'IM2', 'IM3'].map((name) => storedEntry(name, Buffer.from(`content of ${name}`))));
    // Break the signature of the third central directory record ("PK\1\2" → "PK\1\0").
    const archive = await readFile(path);
    const signature = Buffer.from([0x50, 0x4b, 0x01, 0x02]);
    const third = archive.indexOf(signature, archive.indexOf(signature, archive.indexOf(signature) + 1) + 1);
    archive[third + 3] = 0;
    await writeFile(path, archive);

    const items = await collect(zipSource(path, { tempDir }));

    expect(filesOf(items).map((f) => f.displayName)).toEqual(['damaged.zip › IM1', 'damaged.zip › IM2']);
    expect(await readFile(filesOf(items)[1]!.path, 'utf8')).toBe('content of IM2');
    expect(skippedOf(items)).toEqual([{
      displayName: path,
      code: 'ARCHIVE_REFUSED',
      reason: expect.stringMatching(/directory is damaged after 2 of its 3 entries.*the 1 remaining entry of the archive was not unpacked/),
    }]);
  });

  it('refuses a damaged entry (bad checksum, corrupt or short compressed data), deletes its partial file and goes on', async () => {
    const path = join(work, 'corrupt.zip');
    const good = deflatedEntry('good.dcm', randomBytes(200 * KiB));
    await writeZip(path, [
      { ...deflatedEntry('crc.dcm', Buffer.alloc(100 * KiB, 7)), crc32: 0x12345678 },
      { ...deflatedEntry('garbage.dcm', Buffer.alloc(10)), data: Buffer.from([0xff, 0xff, 0xff, 0xff]) },
      { ...good, name: 'short.dcm', data: good.data!.subarray(0, 1000) },
      good,
    ]);

    const items = await collect(zipSource(path, { tempDir }));

    expect(skippedOf(items)).toEqual([
      { displayName: 'corrupt.zip › crc.dcm', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/does not match its CRC-32/) },
      { displayName: 'corrupt.zip › garbage.dcm', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/damaged/) },
      { displayName: 'corrupt.zip › short.dcm', code: 'FILE_TRUNCATED', reason: expect.stringMatching(/ends early/) },
    ]);
    const files = filesOf(items);
    expect(files.map((f) => f.displayName)).toEqual(['corrupt.zip › good.dcm']);
    expect(await filesUnder(tempDir)).toEqual([relative(tempDir, files[0]!.path)]);
  });
});

describe('zipSource: offsets and counts found wrong by the malformed-input fuzzer (faults/malformed-input.test.ts)', () => {
  const signature = (bytes: Buffer, value: number) => bytes.lastIndexOf(Buffer.from([value & 0xff, (value >> 8) & 0xff, (value >> 16) & 0xff, value >>> 24]));

  it('refuses an archive whose ZIP64 locator points past 2^53, where reading it used to take the whole process down', async () => {
    const path = join(work, 'locator.zip');
    await writeZip(path, ['IM1', 'IM2'].map((name) => storedEntry(name, Buffer.from(`content of ${name}`), { zip64: true })), { zip64: true });
    const archive = await readFile(path);
    // (Before: fs.read threw "position out of range" inside yauzl's read callback: an uncaught exception.)
    archive.writeBigUInt64LE(2n ** 60n, signature(archive, 0x07064b50) + 8);
    await writeFile(path, archive);

    expect(await collect(zipSource(path, { tempDir }))).toEqual([{
      kind: 'skipped',
      skipped: { displayName: path, code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/ZIP64 end of central directory locator points outside the archive/) },
    }]);
  }, 10_000);

  it('refuses an entry whose ZIP64 local header offset is past 2^53 and unpacks the next, where the archive used to hang', async () => {
    const path = join(work, 'offset.zip');
    await writeZip(path, ['IM1', 'IM2'].map((name) => storedEntry(name, Buffer.from(`content of ${name}`), { zip64: true })), { zip64: true });
    const archive = await readFile(path);
    // The first central record's ZIP64 field: uncompressed size, compressed size, local header offset.
    const field = archive.indexOf(Buffer.from([0x01, 0x00, 24, 0x00]), archive.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    archive.writeBigUInt64LE(2n ** 53n, field + 4 + 16);
    await writeFile(path, archive);

    // (Before: fs.read threw inside yauzl's one-read-at-a-time queue, which then never read the next record.)
    const items = await collect(zipSource(path, { tempDir }));

    expect(skippedOf(items)).toEqual([{ displayName: 'offset.zip › IM1', code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/local header would be at byte 9007199254740992, outside the archive/) }]);
    expect(filesOf(items).map((f) => f.displayName)).toEqual(['offset.zip › IM2']);
  }, 10_000);

  it('reports an archive whose end record counts no entries although it holds some, instead of importing nothing silently', async () => {
    const path = join(work, 'uncounted.zip');
    await writeZip(path, ['IM1', 'IM2'].map((name) => storedEntry(name, Buffer.from(`content of ${name}`))));
    const archive = await readFile(path);
    const end = signature(archive, 0x06054b50);
    archive.writeUInt16LE(0, end + 8);
    archive.writeUInt16LE(0, end + 10);
    await writeFile(path, archive);

    expect(skippedOf(await collect(zipSource(path, { tempDir })))).toEqual([{
      displayName: path, code: 'ARCHIVE_REFUSED', reason: expect.stringMatching(/directory lists no entries although the archive holds some/),
    }]);
  });
});

describe('zipSource: the temp area', () => {
  it('reports a temp area that cannot be prepared, without unpacking anything', async () => {
    const path = await studyZip();
    const notAFolder = join(work, 'occupied');
    await writeFile(notAFolder, 'a file where the temp folder should be');

    expect(await collect(zipSource(path, { tempDir: notAFolder }))).toEqual([
      { kind: 'skipped', skipped: { displayName: path, code: 'INTERNAL', reason: expect.stringMatching(/temporary folder could not be prepared \((ENOTDIR|EEXIST)\)/) } },
    ]);
  });

  it('stops the archive when an entry cannot be written, and keeps what was yielded', async () => {
    const path = await studyZip();
    const items = [];
    for await (const item of zipSource(path, { tempDir })) {
      items.push(item);
      // The temp folder disappears under the import (cleaned up by someone else, disk unplugged).
      if (items.length === 1 && item.kind === 'file') await rm(dirname(item.file.path), { recursive: true });
    }

    expect(items).toHaveLength(2);
    expect(skippedOf(items)).toEqual([{
      displayName: `study.zip › ${studyFiles[1]!.entry}`,
      code: 'INTERNAL',
      reason: "the entry could not be written to the app's temporary folder (ENOENT). Unpacking stopped here: the 1 remaining entry of the archive was not unpacked",
    }]);
  });
});

describe('zipSource: stopping early', () => {
  it('closes the archive when the consumer breaks out of the loop', async () => {
    const path = await studyZip();
    const before = await openFdCount();
    let during = 0;
    let first: string | undefined;

    for await (const item of zipSource(path, { tempDir })) {
      during = await openFdCount();
      first = item.kind === 'file' ? item.file.path : undefined;
      break;
    }

    // The archive was open while iterating (so the count can see it), and is closed after.
    expect(during).toBe(before + 1);
    expect(await openFdCount()).toBe(before);
    // The file already yielded belongs to the consumer and stays; nothing else was unpacked.
    expect(first).toBeDefined();
    expect(await filesUnder(tempDir)).toEqual([relative(tempDir, first!)]);
  });

  it('closes the archive after a refusal stops it, and after a damaged directory', async () => {
    const bombPath = join(work, 'bomb.zip');
    await writeZip(bombPath, [storedEntry('a', Buffer.from('x')), await zerosBomb('b')]);
    const before = await openFdCount();

    await collect(zipSource(bombPath, { tempDir }));
    await collect(zipSource(join(work, 'missing.zip'), { tempDir }));
    const handle = await open(join(work, 'not-zip.zip'), 'w');
    await handle.close();
    await collect(zipSource(join(work, 'not-zip.zip'), { tempDir }));

    expect(await openFdCount()).toBe(before);
  });
});
