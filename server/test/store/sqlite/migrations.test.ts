import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../../src/store/sqlite/database.js';
import { MIGRATIONS } from '../../../src/store/sqlite/migrations.js';
import { isDeliveryFailureCode } from '../../../src/protocol/delivery-failure-codes.js';

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

describe('migration 9: one spelling of delivery failure codes', () => {
  it('rewrites the old spellings to the table, and leaves nothing outside it', () => {
    const db = databaseAt(8);
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

describe('migration 10: the never-written upload_instances.delivery_state', () => {
  it('is dropped, and the rows keep everything else', () => {
    const db = databaseAt(9);
    db.prepare(`INSERT INTO upload_instances (upload_id, idx, sop_instance_uid, sop_class_uid, size, sha256, state) VALUES ('u', 0, '1.2', '1.3', 10, ?, 'verified')`).run('a'.repeat(64));
    migrate(db);
    const columns = (db.prepare(`SELECT name FROM pragma_table_info('upload_instances')`).all() as { name: string }[]).map((c) => c.name);
    expect(columns).not.toContain('delivery_state');
    expect(db.prepare('SELECT sop_instance_uid AS uid, state FROM upload_instances').get()).toEqual({ uid: '1.2', state: 'verified' });
    db.close();
  });
});
