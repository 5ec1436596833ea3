// The relay's commits reach the disk at WalDurability.flush(), off the event loop, and the HTTP
// layer answers nothing before that flush.
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openDatabase, type RelayDatabase } from '../../../src/store/sqlite/database.js';
import { WalDurability } from '../../../src/store/sqlite/wal-durability.js';
import { startTestRelay, type TestRelay } from '../../support/test-relay.js';

let dir: string;
let db: RelayDatabase | undefined;
let relay: TestRelay | undefined;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relaypacs-wal-'));
});
afterEach(async () => {
  vi.restoreAllMocks();
  db?.close();
  db = undefined;
  await relay?.close();
  relay = undefined;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Counts fdatasync calls made through any FileHandle. */
async function countDatasyncs(): Promise<{ count: number }> {
  const probe = await open(join(dir, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as { datasync: () => Promise<void> };
  await probe.close();
  const counter = { count: 0 };
  const original = prototype.datasync;
  vi.spyOn(prototype, 'datasync').mockImplementation(function (this: unknown) {
    counter.count++;
    return original.call(this);
  });
  return counter;
}

describe('WAL durability', () => {
  it('syncs the WAL only when something was committed, one fdatasync for many waiting flushes', async () => {
    const path = join(dir, `a-${Date.now()}.db`);
    db = openDatabase(path, { flushedByCaller: true });
    expect(db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    db.exec('CREATE TABLE t (x INTEGER)');
    const durability = new WalDurability(db, `${path}-wal`);
    const syncs = await countDatasyncs();
    await durability.flush();
    expect(syncs.count).toBe(0);

    db.prepare('INSERT INTO t VALUES (1)').run();
    await Promise.all(Array.from({ length: 10 }, () => durability.flush()));
    expect(syncs.count).toBe(1);
    await durability.flush();
    expect(syncs.count).toBe(1);

    // A commit made while a sync runs is covered by the next one, which its flush waits for.
    db.prepare('INSERT INTO t VALUES (2)').run();
    const first = durability.flush();
    db.prepare('INSERT INTO t VALUES (3)').run();
    const second = durability.flush();
    await Promise.all([first, second]);
    expect(syncs.count).toBe(3);
    await durability.close();
  });

  it('a standalone opening (the user CLI) syncs every commit itself', () => {
    db = openDatabase(join(dir, `b-${Date.now()}.db`));
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL
  });

  it('the relay answers only after the flush of what the request committed', async () => {
    relay = await startTestRelay();
    await relay.addUser('ada', 'radiographer', { password: 'correct horse battery staple' });
    const durability = relay.services.durability;
    const flush = durability.flush.bind(durability);
    let flushedAt = 0;
    vi.spyOn(durability, 'flush').mockImplementation(async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await flush();
      flushedAt = performance.now();
    });
    const session = await relay.login('ada', 'correct horse battery staple');
    const answeredAt = performance.now();
    expect(session.refreshToken).toBeTruthy();
    expect(flushedAt).toBeGreaterThan(0);
    expect(answeredAt).toBeGreaterThanOrEqual(flushedAt);
  });
});
