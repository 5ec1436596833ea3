import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import type { TemporaryStorage } from '../../src/storage/storage.js';
import { SqliteUploads } from '../../src/store/sqlite/sqlite-uploads.js';
import type { ChunkRecord, UploadsStore } from '../../src/store/uploads-store.js';

/**
 * The bytes a relay holds for an instance, read as the relay reads them: through its temporary
 * storage, over the pieces its database recorded. `relay`: a running test relay's services, or the
 * data directory of a relay process (its database is then opened read-only).
 */
export async function heldInstance(relay: { storage: TemporaryStorage; store: { uploads: UploadsStore } } | string, uploadId: string, index: number): Promise<Buffer> {
  const storage = typeof relay === 'string' ? new LocalDiskStorage(join(relay, 'uploads')) : relay.storage;
  const pieces = typeof relay === 'string' ? recordedPieces(relay, uploadId, index) : await relay.store.uploads.chunks(uploadId, index);
  const size = pieces.reduce((sum, piece) => sum + piece.length, 0);
  const parts: Buffer[] = [];
  for await (const part of storage.readRange(uploadId, index, pieces, 0, size) as AsyncIterable<Buffer> & Readable) parts.push(part);
  return Buffer.concat(parts);
}

/** The pieces recorded in a relay's database, read without opening it for writing (the relay may still run). */
function recordedPieces(dataDir: string, uploadId: string, index: number): ChunkRecord[] {
  const db = new Database(join(dataDir, 'relay.db'), { readonly: true });
  try {
    return new SqliteUploads(db).chunks(uploadId, index);
  } finally {
    db.close();
  }
}
