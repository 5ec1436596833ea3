import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Mounting a file system needs root: tests of a full disk run only then. */
export const CAN_MOUNT = process.getuid?.() === 0;

/**
 * A small, real file system (tmpfs) for full-disk tests: writes past its size fail with ENOSPC as
 * on a full disk, and so do new files past `inodes`. `unmount()` must run in afterAll (or finally),
 * also when the test failed; it is idempotent.
 */
export class SmallDisk {
  private mounted = true;

  private constructor(readonly path: string, private readonly ownsDir: boolean) {}

  /** Mounts a tmpfs of `bytes` at `at` (created if missing), or at a new temporary folder. */
  static async mount(bytes: number, options: { at?: string; inodes?: number } = {}): Promise<SmallDisk> {
    const path = options.at ?? await mkdtemp(join(tmpdir(), 'relaypacs-small-disk-'));
    await mkdir(path, { recursive: true });
    const mountOptions = [`size=${bytes}`, 'mode=0700', ...(options.inodes ? [`nr_inodes=${options.inodes}`] : [])].join(',');
    await run('mount', ['-t', 'tmpfs', '-o', mountOptions, 'tmpfs', path]);
    return new SmallDisk(path, options.at === undefined);
  }

  /** Free bytes, as the relay sees them (statfs). */
  async freeBytes(): Promise<number> {
    const stats = await statfs(this.path);
    return stats.bavail * stats.bsize;
  }

  async unmount(): Promise<void> {
    if (!this.mounted) return;
    // Lazy: a process that still has a file open there (a relay being stopped) does not keep it mounted.
    await run('umount', ['-l', this.path]);
    this.mounted = false;
    if (this.ownsDir) await rm(this.path, { recursive: true, force: true });
  }
}
