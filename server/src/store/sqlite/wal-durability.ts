import { open, type FileHandle } from 'node:fs/promises';
import { SharedSync } from '../../storage/shared-sync.js';
import type { RelayDatabase } from './database.js';

/**
 * Makes committed transactions durable off the event loop. The relay's SQLite runs in WAL mode with
 * synchronous=NORMAL: a commit appends to the WAL without waiting for the disk, so it survives the
 * relay being killed (the OS holds it) but not yet a power cut. flush() then fdatasyncs the WAL in
 * libuv's thread pool; once it resolves, every transaction committed before the call is on disk,
 * exactly as with synchronous=FULL. The HTTP layer awaits it before every answer (app.ts), so
 * nothing is acknowledged before it is durable, while the event loop never stops for a disk flush
 * (with FULL, each commit of a small instance blocked it for about a millisecond, and commits queued
 * behind each other). Concurrent flushes share one fdatasync (SharedSync); a flush with nothing
 * committed since the last one costs nothing.
 */
export class WalDurability {
  private wal: FileHandle | undefined;
  /** SQLite's change counter as of the last fdatasync's start: what is known to be on disk. */
  private durableChanges: number;
  private readonly shared = new SharedSync(() => this.sync(), () => this.changes() !== this.durableChanges);

  constructor(private readonly db: RelayDatabase, private readonly walPath: string) {
    this.durableChanges = this.changes();
  }

  /** Resolves once every transaction committed before this call is on disk. */
  flush(): Promise<void> {
    if (!this.shared.busy && this.changes() === this.durableChanges) return Promise.resolve();
    // While a run is under way it may have started before this caller's commit: request() waits for the next.
    return this.shared.request();
  }

  async close(): Promise<void> {
    await this.shared.settle();
    await this.wal?.close();
    this.wal = undefined;
  }

  private async sync(): Promise<void> {
    // A unit of work open now (RelayStore.withTransaction spans awaits) has its changes counted but
    // not committed, so not in this sync: none are claimed durable, and the flush after its commit syncs.
    const changes = this.db.inTransaction ? this.durableChanges : this.changes();
    // The WAL exists from the first write on and stays (rewound after checkpoints) while the
    // database is open, so one handle serves for the process's life.
    this.wal ??= await open(this.walPath, 'r');
    await this.wal.datasync();
    this.durableChanges = Math.max(this.durableChanges, changes);
  }

  /** Rows changed through this connection since it opened; every write to the relay's database goes through it. */
  private changes(): number {
    return (this.db.prepare('SELECT total_changes() AS n').get() as { n: number }).n;
  }
}
