// A SqliteRelayStore on a real file (WAL) in its own temporary directory, as the relay opens it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteRelayStore, type SqliteRelayStore } from '../../src/store/sqlite/sqlite-relay-store.js';

export interface TempSqliteStore {
  store: SqliteRelayStore;
  path: string;
  dir: string;
  /** Closes the store and deletes its directory. */
  dispose(): Promise<void>;
}

export async function openTempSqliteStore(now: () => Date = () => new Date()): Promise<TempSqliteStore> {
  const dir = await mkdtemp(join(tmpdir(), 'relaypacs-store-'));
  const path = join(dir, 'relay.db');
  // The server's mode (commits reach the disk at flush()), so tests that make thousands of commits stay fast.
  const store = openSqliteRelayStore(path, { now, flushedByCaller: true });
  return {
    store, path, dir,
    async dispose() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
