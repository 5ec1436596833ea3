// The store contracts on the SQLite backend, on real files in WAL mode, plus what only SQLite has:
// one connection whose calls outside a transaction wait for it, and a fast path when none is open.
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { describeAccountsStoreContract } from './accounts-store-contract.js';
import { describeAuditStoreContract } from './audit-store-contract.js';
import { describeChunkClaimsStoreContract } from './chunk-claims-store-contract.js';
import { describeDeliveriesStoreContract } from './deliveries-store-contract.js';
import { describeEventsStoreContract } from './events-store-contract.js';
import { describeJobLeasesStoreContract } from './job-leases-store-contract.js';
import { describeReportsStoreContract } from './reports-store-contract.js';
import { describeSignalsStoreContract } from './signals-store-contract.js';
import { openTempSqliteStore, type TempSqliteStore } from './sqlite-temp-store.js';
import { deferred, type StoreFactory } from './store-under-test.js';
import { describeUnitOfWorkContract } from './unit-of-work-contract.js';
import { describeUploadsStoreContract } from './uploads-store-contract.js';

const sqlite: StoreFactory = async (now) => {
  const temp = await openTempSqliteStore(now);
  expect(temp.store.database.pragma('journal_mode', { simple: true })).toBe('wal');
  return temp;
};

describeUnitOfWorkContract('SQLite', sqlite);
describeAccountsStoreContract('SQLite', sqlite);
describeAuditStoreContract('SQLite', sqlite);
describeUploadsStoreContract('SQLite', sqlite);
describeDeliveriesStoreContract('SQLite', sqlite);
describeEventsStoreContract('SQLite', sqlite);
describeJobLeasesStoreContract('SQLite', sqlite);
describeReportsStoreContract('SQLite', sqlite);
describeChunkClaimsStoreContract('SQLite', sqlite);
describeSignalsStoreContract('SQLite', sqlite);

describe('SQLite: one connection shared by the transactions and the calls outside them', () => {
  let temp: TempSqliteStore;
  beforeEach(async () => {
    temp = await openTempSqliteStore();
  });
  afterEach(async () => {
    await temp.dispose();
  });
  const auditRows = () => (temp.store.database.prepare('SELECT COUNT(*) AS n FROM audit_log').get() as { n: number }).n;

  it('runs a call at once when no transaction is open', async () => {
    const call = temp.store.audit.record({ action: 'login', outcome: 'success' });
    expect(auditRows()).toBe(1); // written before the caller even awaited
    await call;
  });

  it('holds a call made while a transaction is open until that transaction has ended', async () => {
    const release = deferred();
    const started = deferred();
    const transaction = temp.store.withTransaction(async (tx) => {
      await tx.audit.record({ action: 'login', outcome: 'inside' });
      started.resolve();
      await release.promise;
    });
    await started.promise;
    let outsideDone = false;
    const outside = temp.store.audit.record({ action: 'login', outcome: 'outside' }).then(() => (outsideDone = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(outsideDone).toBe(false);
    expect(temp.store.database.inTransaction).toBe(true);
    release.resolve();
    await transaction;
    await outside;
    expect((await temp.store.audit.since(undefined)).map((row) => row.outcome)).toEqual(['inside', 'outside']);
  });

  it('does not count a flush made while a unit of work is open as making its later commit durable', async () => {
    const probe = await open(join(temp.dir, 'probe'), 'w');
    const fileHandle = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
    await probe.close();
    const datasync = fileHandle.datasync;
    let syncs = 0;
    vi.spyOn(fileHandle, 'datasync').mockImplementation(function (this: unknown) {
      syncs++;
      return datasync.call(this);
    });
    try {
      const release = deferred();
      const written = deferred();
      const transaction = temp.store.withTransaction(async (tx) => {
        await tx.audit.record({ action: 'login', outcome: 'uncommitted while the flush runs' });
        written.resolve();
        await release.promise;
      });
      await written.promise;
      await temp.store.flush(); // another request's answer, while the unit of work is open
      release.resolve();
      await transaction;
      const before = syncs;
      await temp.store.flush();
      expect(syncs).toBe(before + 1);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('leaves no transaction open after a work that threw', async () => {
    await expect(temp.store.withTransaction(async () => {
      throw new Error('no');
    })).rejects.toThrow('no');
    expect(temp.store.database.inTransaction).toBe(false);
  });
});
