import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/db/database.js';
import { MIGRATIONS } from '../../src/db/migrations.js';
import { isDeliveryFailureCode } from '../../src/protocol/delivery-failure-codes.js';

/** A database as a relay released with the first `version` migrations left it. */
function databaseAt(version: number): Database.Database {
  const db = new Database(':memory:');
  // Rows are inserted on their own (a delivery item without its upload): what a migration rewrites
  // does not depend on the rows it refers to.
  db.pragma('foreign_keys = OFF');
  for (const sql of MIGRATIONS.slice(0, version)) db.exec(sql);
  db.pragma(`user_version = ${version}`);
  return db;
}

describe('migration 7: one spelling of delivery failure codes', () => {
  it('rewrites the old spellings to the table, and leaves nothing outside it', () => {
    const db = databaseAt(6);
    const old = ['HTTP 400', 'HTTP 413', 'FilteredOut', 'A700', '0122', 'c123', 'REFUSED', 'ATTEMPTS_EXHAUSTED', 'STUDY_UID_MISMATCH', 'ENOSPC', null];
    const insert = db.prepare(`INSERT INTO delivery_items (delivery_id, idx, state, next_attempt_at, updated_at, failure_code) VALUES (1, ?, 'failed', '', '', ?)`);
    old.forEach((code, index) => insert.run(index, code));
    migrate(db);
    const codes = (db.prepare('SELECT failure_code AS code FROM delivery_items ORDER BY idx').all() as { code: string | null }[]).map((row) => row.code);
    expect(codes).toEqual(['HTTP_400', 'HTTP_413', 'FILTERED_OUT', 'DICOM_A700', 'DICOM_0122', 'DICOM_C123', 'REFUSED', 'ATTEMPTS_EXHAUSTED', 'STUDY_UID_MISMATCH', 'REFUSED', null]);
    expect(codes.filter((code): code is string => code !== null).every(isDeliveryFailureCode)).toBe(true);
    db.close();
  });
});
