import type { CatalogDatabase } from '../catalog/catalog-database.js';
import type { ResolvedWatchedFolderConfig } from './watched-folder-config.js';

/** What is kept of a watched folder: where, and the defaults its studies are sent with. */
export type StoredWatchedFolder = Pick<ResolvedWatchedFolderConfig, 'path' | 'serviceLevel' | 'routingTag' | 'afterDelivery' | 'doneFolder' | 'usePolling'>;

interface Row {
  path: string;
  service_level: 'STAT' | 'ROUTINE';
  routing_tag: string | null;
  after_delivery: 'keep' | 'move' | 'delete';
  done_folder: string | null;
  use_polling: number;
}

/**
 * The desktop app's watched folders in the catalog (migration 4), one row per folder path. Timing
 * (stability, quiet period) is not stored per folder: the defaults of watched-folder-config.ts apply.
 */
export class WatchedFoldersRepository {
  constructor(private readonly db: CatalogDatabase, private readonly now: () => Date = () => new Date()) {}

  list(): StoredWatchedFolder[] {
    return (this.db.prepare('SELECT * FROM watched_folders ORDER BY created_at, path').all() as Row[]).map((row) => ({
      path: row.path, serviceLevel: row.service_level, afterDelivery: row.after_delivery, usePolling: row.use_polling === 1,
      ...(row.routing_tag !== null ? { routingTag: row.routing_tag } : {}),
      ...(row.done_folder !== null ? { doneFolder: row.done_folder } : {}),
    }));
  }

  /** Adds a folder, or changes the defaults of one already watched. */
  save(folder: StoredWatchedFolder): void {
    const now = this.now().toISOString();
    this.db.prepare(`INSERT INTO watched_folders (path, service_level, routing_tag, after_delivery, done_folder, use_polling, created_at, updated_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (path) DO UPDATE SET service_level = excluded.service_level, routing_tag = excluded.routing_tag, after_delivery = excluded.after_delivery,
        done_folder = excluded.done_folder, use_polling = excluded.use_polling, updated_at = excluded.updated_at`)
      .run(folder.path, folder.serviceLevel, folder.routingTag ?? null, folder.afterDelivery, folder.doneFolder ?? null, folder.usePolling ? 1 : 0, now, now);
  }

  /** True when the folder was watched. */
  remove(path: string): boolean {
    return this.db.prepare('DELETE FROM watched_folders WHERE path = ?').run(path).changes > 0;
  }
}
