import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Entry, ZipFile } from 'yauzl';
import yauzl from 'yauzl';

/** How long close() waits for the file handle to be released before it stops waiting. */
const CLOSE_WAIT_MS = 5_000;

/**
 * One open archive, read through yauzl's central directory one entry at a time (lazyEntries), so
 * an archive of any size or entry count costs the same memory. Promises over yauzl's callbacks and
 * events; nothing else.
 */
export class ZipArchive {
  private constructor(private readonly zip: ZipFile) {
    // yauzl reports a failure to close the file as an 'error' event with nobody waiting on a
    // promise; without a listener that event would crash the process. next() has its own listener.
    zip.on('error', () => {});
  }

  /**
   * Opens the archive and reads its end records. Rejects for a missing or unreadable file, a file
   * that is not a ZIP, or a damaged directory; yauzl then closes what it opened.
   */
  static async open(path: string): Promise<ZipArchive> {
    if (await zip64EndRecordOutside(path)) throw new Error('the ZIP64 end of central directory locator points outside the archive');
    return new Promise((resolve, reject) => {
      yauzl.open(path, {
        lazyEntries: true,
        // We close it ourselves, also when the consumer stops early or an entry fails.
        autoClose: false,
        // A STORE entry whose two sizes disagree is refused with the directory.
        validateEntrySizes: true,
        // Backslashes are read as separators (Windows tools write them), not refused outright.
        strictFileNames: false,
        // Names stay raw bytes here: with decodeStrings yauzl rejects the whole archive on the first
        // unsafe name, and one bad entry must be reported on its own while the rest goes on.
        // zip-entry-name.ts decodes them with yauzl's own decoder.
        decodeStrings: false,
      }, (error, zip) => {
        if (error) reject(error);
        else resolve(new ZipArchive(zip));
      });
    });
  }

  /** Entries listed in the directory, folders included (the ZIP64 count when there is one). */
  get entryCount(): number {
    return this.zip.entryCount;
  }

  get entriesRead(): number {
    return this.zip.entriesRead;
  }

  get fileSize(): number {
    return this.zip.fileSize;
  }

  /** The next directory record, or null after the last. Rejects when the directory is damaged. */
  next(): Promise<Entry | null> {
    return new Promise((resolve, reject) => {
      // After an error yauzl reads nothing more and sends no event: waiting would never end.
      if (this.zip.emittedError) {
        reject(new Error('the archive already failed'));
        return;
      }
      const settle = (entry: Entry | null, error?: Error): void => {
        this.zip.off('entry', onEntry).off('end', onEnd).off('error', onError);
        if (error) reject(error);
        else resolve(entry);
      };
      const onEntry = (entry: Entry): void => settle(entry);
      const onEnd = (): void => settle(null);
      const onError = (error: Error): void => settle(null, error);
      this.zip.on('entry', onEntry).on('end', onEnd).on('error', onError);
      this.zip.readEntry();
    });
  }

  /**
   * The entry's bytes exactly as stored (still compressed): the caller inflates them itself so it
   * can count what comes out. yauzl bounds the range to the file and checks its length.
   */
  openRaw(entry: Entry): Promise<Readable> {
    // yauzl reads the local header wherever the directory says. Past 2^53 (a damaged ZIP64 field)
    // fs.read throws inside yauzl's one-read-at-a-time queue, which then never reads again: the
    // next directory record would be waited for forever. Anything past the end cannot be read anyway.
    const at = entry.relativeOffsetOfLocalHeader;
    if (!Number.isSafeInteger(at) || at < 0 || at + 30 > this.zip.fileSize) {
      return Promise.reject(new Error(`its local header would be at byte ${at}, outside the archive`));
    }
    return new Promise((resolve, reject) => {
      this.zip.openReadStream(entry, { decodeFileData: false }, (error, stream) => {
        if (error) reject(error);
        else resolve(stream);
      });
    });
  }

  /**
   * Releases the file. yauzl closes the descriptor once no read stream holds it, and says so with
   * 'close'; waiting for it means that an import which stopped early has really let go of the file
   * (Windows would otherwise refuse to delete or move it). The wait is bounded: a stream that never
   * finishes must not hang the import, and the descriptor is then closed when it does.
   */
  async close(): Promise<void> {
    if (!this.zip.isOpen) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      timer.unref();
      this.zip.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.zip.close();
    });
  }
}

/**
 * Whether the ZIP64 locator, found as yauzl finds it (the last end record signature within the
 * last 64 KiB + 22 bytes, APPNOTE.TXT 4.3.14-4.3.16), names an end record beyond the file. yauzl
 * would read there, and an offset past 2^53 makes fs.read throw inside a read callback, where
 * nothing can catch it: the whole process would go down with one damaged archive.
 */
async function zip64EndRecordOutside(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return false; // yauzl.open reports it
  }
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, 22 + 0xffff);
    const { buffer: tail, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, size - length);
    for (let i = bytesRead - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) !== 0x06054b50) continue;
      if (i < 20 || tail.readUInt32LE(i - 20) !== 0x07064b50) return false;
      return tail.readBigUInt64LE(i - 20 + 8) + 56n > BigInt(size);
    }
    return false;
  } finally {
    await handle.close();
  }
}
