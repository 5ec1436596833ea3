import type { Statement } from 'better-sqlite3';
import type { CatalogDatabase } from '../catalog/catalog-database.js';

/**
 * The catalog's `settings` table, key by key: the one place that reads and writes its rows. The agent's
 * settings (AgentSettings: sending limits, relay connection) and the desktop's own (DesktopSettings,
 * desktop.* keys) each parse and check their values, then store them through here, so a row is always
 * written the same way (its updated_at set, a cleared setting deleted rather than stored empty).
 */
export class SettingsTable {
  private readonly select: Statement<[string], { value: string }>;
  private readonly upsert: Statement<[string, string, string]>;
  private readonly remove: Statement<[string]>;

  constructor(private readonly db: CatalogDatabase, private readonly now: () => Date = () => new Date()) {
    this.select = db.prepare('SELECT value FROM settings WHERE key = ?');
    this.upsert = db.prepare('INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at');
    this.remove = db.prepare('DELETE FROM settings WHERE key = ?');
  }

  /** The stored text of a key; undefined when it was never set (or was cleared). */
  get(key: string): string | undefined {
    return this.select.get(key)?.value;
  }

  /** Stores a key's text; null clears it, so it reads as its default again. */
  set(key: string, value: string | null): void {
    if (value === null) this.remove.run(key);
    else this.upsert.run(key, value, this.now().toISOString());
  }

  /** Runs `change` in one transaction: several settings change together or not at all. */
  transaction(change: () => void): void {
    this.db.transaction(change)();
  }
}
