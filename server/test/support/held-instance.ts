import { join } from 'node:path';
import type { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import type { RelayDatabase } from '../../src/db/database.js';
import { LocalDiskStorage } from '../../src/storage/local-disk-storage.js';
import type { TemporaryStorage } from '../../src/storage/storage.js';
import { UploadsRepository } from '../../src/upload/uploads-repository.js';

/**
 * The bytes a relay holds for an instance, read as the relay reads them: through its temporary
 * storage, over the pieces its database recorded. `relay`: a running test relay's services, or the
 * data directory of a relay process (its database is then opened read-only).
 */
export async function heldInstance(relay: { storage: TemporaryStorage; db: RelayDatabase } | string, uploadId: string, index: number): Promise<Buffer> {
  const db = typeof relay === 'string' ? new Database(join(relay, 'relay.db'), { readonly: true }) : relay.db;
  try {
    const storage = typeof relay === 'string' ? new LocalDiskStorage(join(relay, 'uploads')) : relay.storage;
    const pieces = new UploadsRepository(db).chunks(uploadId, index);
    const size = pieces.reduce((sum, piece) => sum + piece.length, 0);
    const parts: Buffer[] = [];
    for await (const part of storage.readRange(uploadId, index, pieces, 0, size) as AsyncIterable<Buffer> & Readable) parts.push(part);
    return Buffer.concat(parts);
  } finally {
    if (typeof relay === 'string') db.close();
  }
}
