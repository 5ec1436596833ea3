import Database from 'better-sqlite3';
import { CATALOG_MIGRATIONS } from './catalog-migrations.js';

export type CatalogDatabase = Database.Database;

/**
 * Opens the desktop catalog: WAL (the UI reads while an import writes) and synchronous=FULL (an
 * import the user saw finish survives a power cut), foreign keys on, migrations applied.
 */
export function openCatalogDatabase(path: string): CatalogDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const [index, sql] of CATALOG_MIGRATIONS.entries()) {
    if (index + 1 <= current) continue;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${index + 1}`);
    })();
  }
  return db;
}
