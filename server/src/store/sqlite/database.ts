import Database from 'better-sqlite3';
import { MIGRATIONS } from './migrations.js';

export type RelayDatabase = Database.Database;

/**
 * Opens the relay's SQLite file: WAL so readers never block the writer, foreign keys on, and a busy
 * timeout so the CLI and a running server can share the file. By default synchronous=FULL: a
 * transaction that returned is on disk. The server passes `flushedByCaller`: synchronous=NORMAL, so a
 * commit survives the relay being killed but reaches the disk at WalDurability.flush(), which the
 * HTTP layer awaits before every answer; nothing is acknowledged before it is on disk, and the event
 * loop does not stop for every commit's disk flush.
 */
export function openDatabase(path: string, options: { flushedByCaller?: boolean } = {}): RelayDatabase {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma(options.flushedByCaller ? 'synchronous = NORMAL' : 'synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  cachePreparedStatements(db);
  return db;
}

/**
 * Repositories prepare their SQL where they run it, and better-sqlite3 compiles the SQL again on
 * every prepare(): on the chunk path that was a third of the relay's CPU time. Compiled statements
 * are kept by their text instead. Safe because every statement runs to completion synchronously
 * (nothing here uses iterate(), pluck() or raw()), so one is never in use twice at once.
 */
function cachePreparedStatements(db: RelayDatabase): void {
  const compile = db.prepare.bind(db);
  const compiled = new Map<string, Database.Statement>();
  db.prepare = ((sql: string) => {
    let statement = compiled.get(sql);
    if (!statement) compiled.set(sql, (statement = compile(sql)));
    return statement;
  }) as RelayDatabase['prepare'];
}

/** Applies the migrations newer than the file's user_version, each in its own transaction. */
export function migrate(db: RelayDatabase): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  for (const [index, sql] of MIGRATIONS.entries()) {
    const version = index + 1;
    if (version <= current) continue;
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${version}`);
    })();
  }
}
