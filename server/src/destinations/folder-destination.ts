import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { link, lstat, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { validatePart10 } from '../dicom/part10-validator.js';
import { isWellFormedUid } from '@relaypacs/dicom';
import { fsyncDirectory } from '../storage/fsync-directory.js';
import { TransientDestinationError, type Destination, type InstanceOutcome, type InstanceToSend, type StudyContext } from '../forward/destination.js';

export interface FolderDestinationOptions {
  name: string;
  /** Root folder; instances land in `<directory>/<Study Instance UID>/<SOP Instance UID>.dcm`. */
  directory: string;
}

/** Errors that say this file system cannot make hard links; publishing then falls back to rename(2). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EXDEV', 'EMLINK']);

/** File-system errors that the same write would hit again until someone fixes the folder. */
const FOLDER_FAULTS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ENAMETOOLONG']);

/** What a Part 10 file starts with: a 128-byte preamble, then "DICM" (PS3.10 §7.1). */
const DICM_OFFSET = 128;

/**
 * The embedded default destination when no PACS is configured: each instance becomes
 * `<directory>/<Study Instance UID>/<SOP Instance UID>.dcm`, the Part 10 file exactly as uploaded.
 *
 * A file appears complete or not at all: it is written under a temporary name in the same folder,
 * fsync'ed, then published under its final name and the folder fsync'ed, so a crash or power cut
 * leaves either nothing or the whole instance, never a torn file under the final name. Publishing
 * uses link(2), which fails if the name exists, so an instance is never silently replaced.
 */
export class FolderDestination implements Destination {
  readonly kind = 'folder' as const;
  readonly name: string;
  readonly batchLimits = { maxInstances: 500, maxBytes: 1024 * 1024 * 1024 };
  private readonly directory: string;
  /** Sizes of the files this process wrote or found, for confirm(). */
  private readonly sizes = new Map<string, number>();

  constructor(options: FolderDestinationOptions) {
    this.name = options.name;
    this.directory = options.directory;
  }

  async store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>> {
    const outcomes = new Map<string, InstanceOutcome>();
    // UIDs become path names: only digits and dots (PS3.5 §9.1), so "..", "/" and the like never reach the file system.
    if (!isWellFormedUid(study.studyInstanceUid)) {
      for (const instance of instances) {
        outcomes.set(instance.sopInstanceUid, permanent('the Study Instance UID is not a valid UID (digits and dots, at most 64), so it cannot name a folder'));
      }
      return outcomes;
    }
    const studyDir = join(this.directory, study.studyInstanceUid);
    await this.ensureStudyFolder(studyDir);
    for (const instance of instances) {
      // A file-system error on one instance (EIO, ENOSPC, EACCES on an existing file) is that instance's outcome.
      outcomes.set(instance.sopInstanceUid, await this.storeOne(studyDir, study.studyInstanceUid, instance).catch(writeFailure));
    }
    return outcomes;
  }

  async confirm(study: StudyContext, sopInstanceUids: readonly string[]): Promise<Set<string>> {
    const held = new Set<string>();
    if (!isWellFormedUid(study.studyInstanceUid)) return held;
    for (const uid of sopInstanceUids) {
      if (!isWellFormedUid(uid)) continue;
      const path = join(this.directory, study.studyInstanceUid, `${uid}.dcm`);
      const stats = await lstat(path).catch(() => undefined);
      if (!stats?.isFile()) continue;
      const expected = this.sizes.get(sizeKey(study.studyInstanceUid, uid));
      // Without a record (e.g. written before a restart), at least the Part 10 prefix must be there.
      if (expected === undefined ? await hasPart10Prefix(path) : stats.size === expected) held.add(uid);
    }
    return held;
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  private async ensureStudyFolder(studyDir: string): Promise<void> {
    let created: string | undefined;
    try {
      created = await mkdir(studyDir, { recursive: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
      // The folder is unusable for every instance of the batch: retry it whole once someone fixes it.
      throw new TransientDestinationError(`cannot create the study folder under ${this.directory} (${code})`, undefined, { cause: error });
    }
    if (created !== undefined) {
      // New directory entries are durable only once their parent directory is fsync'ed.
      for (let dir = studyDir; dir.length >= created.length; dir = dirname(dir)) await fsyncDirectory(dirname(dir));
    }
  }

  private async storeOne(studyDir: string, studyUid: string, instance: InstanceToSend): Promise<InstanceOutcome> {
    const uid = instance.sopInstanceUid;
    if (!isWellFormedUid(uid)) {
      return permanent('the SOP Instance UID is not a valid UID (digits and dots, at most 64), so it cannot name a file');
    }
    const finalPath = join(studyDir, `${uid}.dcm`);
    if (await exists(finalPath)) return this.compareWithExisting(finalPath, studyUid, instance);

    const tempPath = join(studyDir, `.${uid}.${randomBytes(6).toString('hex')}.partial`);
    let written: { size: number; sha256: string };
    try {
      written = await writeDurably(instance.open(), tempPath);
    } catch (error) {
      await rm(tempPath, { force: true });
      return writeFailure(error);
    }
    let published: boolean;
    try {
      const refusal = await checkInstance(tempPath, written.size, studyUid, instance);
      if (refusal) {
        await rm(tempPath, { force: true });
        return refusal;
      }
      published = await publish(tempPath, finalPath);
      // The temporary name goes before the folder is synced, so one fsync makes both changes durable.
      await rm(tempPath, { force: true });
      if (published) await fsyncDirectory(studyDir);
    } catch (error) {
      await rm(tempPath, { force: true });
      return writeFailure(error);
    }
    // Not published: another writer stored this SOP Instance UID between the check and now.
    const outcome = published ? { status: 'stored' as const } : await compareFiles(finalPath, written);
    if (outcome.status === 'stored') this.sizes.set(sizeKey(studyUid, uid), written.size);
    return outcome;
  }

  private async compareWithExisting(finalPath: string, studyUid: string, instance: InstanceToSend): Promise<InstanceOutcome> {
    let incoming: { size: number; sha256: string };
    try {
      incoming = await digest(instance.open());
    } catch (error) {
      return writeFailure(error);
    }
    const outcome = await compareFiles(finalPath, incoming);
    if (outcome.status === 'stored') this.sizes.set(sizeKey(studyUid, instance.sopInstanceUid), incoming.size);
    return outcome;
  }
}

/**
 * Checks the written file with the relay's own Part 10 validator against the delivery: its SOP
 * instance and class, and that it belongs to the study whose folder it is about to enter. Reads
 * only the header, from the file just written. Answers the refusal, or undefined when it is fine.
 */
async function checkInstance(path: string, size: number, studyInstanceUid: string, instance: InstanceToSend): Promise<InstanceOutcome | undefined> {
  const handle = await open(path, 'r');
  try {
    const readHeader = async (start: number, end: number) => {
      const bytes = Buffer.alloc(end - start);
      const { bytesRead } = await handle.read(bytes, 0, bytes.length, start);
      return bytes.subarray(0, bytesRead);
    };
    const checked = await validatePart10(readHeader, size, {
      studyInstanceUid,
      sopInstanceUid: instance.sopInstanceUid,
      sopClassUid: instance.sopClassUid,
      // Which SOP classes the relay accepts was decided at upload; here only consistency matters.
      allowedSopClasses: new Set([instance.sopClassUid]),
    });
    if (checked.ok) return undefined;
    return permanent(checked.code === 'STUDY_UID_MISMATCH'
      ? 'the instance belongs to another study than the one being delivered'
      : `the instance cannot be filed: ${checked.reason}`);
  } finally {
    await handle.close();
  }
}

function permanent(reason: string): InstanceOutcome {
  return { status: 'failed', permanent: true, reason };
}

function sizeKey(studyUid: string, sopUid: string): string {
  return `${studyUid}/${sopUid}`;
}

function writeFailure(error: unknown): InstanceOutcome {
  const code = (error as NodeJS.ErrnoException).code;
  // ENOSPC, EIO, a broken source stream: worth retrying later. A folder the relay may not write
  // to is retried too (someone can fix permissions) but says so plainly.
  const hint = code && FOLDER_FAULTS.has(code) ? ': check the folder exists and the relay may write to it' : '';
  return { status: 'failed', permanent: false, reason: `writing the instance failed (${code ?? (error as Error).message})${hint}` };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/** Counts and hashes what flows through. */
function hashingTap(): { tap: Transform; result: () => { size: number; sha256: string } } {
  const hash = createHash('sha256');
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
  });
  return { tap, result: () => ({ size, sha256: hash.digest('hex') }) };
}

/** Streams the instance into a new file (O_EXCL) and fsyncs it (`flush`) before it is closed. */
async function writeDurably(source: Readable, path: string): Promise<{ size: number; sha256: string }> {
  const { tap, result } = hashingTap();
  await pipeline(source, tap, createWriteStream(path, { flags: 'wx', flush: true }));
  return result();
}

async function digest(source: Readable): Promise<{ size: number; sha256: string }> {
  const { tap, result } = hashingTap();
  await pipeline(source, tap, async (chunks: AsyncIterable<Buffer>) => {
    for await (const _chunk of chunks) {
      // Consumed only to be hashed.
    }
  });
  return result();
}

async function compareFiles(existingPath: string, incoming: { size: number; sha256: string }): Promise<InstanceOutcome> {
  const existing = await digest(createReadStream(existingPath));
  if (existing.size === incoming.size && existing.sha256 === incoming.sha256) {
    return { status: 'stored', warning: 'already present: an identical file was already in the folder' };
  }
  return permanent('a different instance with this SOP Instance UID is already there');
}

/**
 * Gives the temporary file its final name without ever replacing a file: link(2) fails with
 * EEXIST when the name is taken (POSIX), where rename(2) would replace it. On file systems without
 * hard links, rename is used after a last check. Answers false when the name was taken.
 */
async function publish(tempPath: string, finalPath: string): Promise<boolean> {
  try {
    await link(tempPath, finalPath);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (!code || !NO_HARD_LINKS.has(code)) throw error;
  }
  if (await exists(finalPath)) return false;
  await rename(tempPath, finalPath);
  return true;
}


async function hasPart10Prefix(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const prefix = Buffer.alloc(4);
    const { bytesRead } = await handle.read(prefix, 0, 4, DICM_OFFSET);
    return bytesRead === 4 && prefix.toString('latin1') === 'DICM';
  } finally {
    await handle.close();
  }
}
