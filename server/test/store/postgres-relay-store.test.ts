// The store contracts on the PostgreSQL backend, on a real server (the test kit's PostgresServer,
// one per file) with a fresh database per store, plus what only a shared server has: relays
// migrating together, a restart under a running store, and two relays (two stores) on one database.
import { PostgresServer } from '@relaypacs/testkit';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LoginRateLimiter } from '../../src/auth/login-rate-limiter.js';
import { newSigningJwk, SigningKeyRing } from '../../src/auth/signing-keys.js';
import { RefreshTokenService } from '../../src/auth/refresh-token-service.js';
import { POSTGRES_MIGRATIONS } from '../../src/store/postgres/postgres-migrations.js';
import { openPostgresRelayStore, type PostgresRelayStore } from '../../src/store/postgres/postgres-relay-store.js';
import { StoreUnavailableError, type RelayStore } from '../../src/store/relay-store.js';
import { describeAccountsStoreContract } from './accounts-store-contract.js';
import { describeAuditStoreContract } from './audit-store-contract.js';
import { describeChunkClaimsStoreContract } from './chunk-claims-store-contract.js';
import { claimOne, describeDeliveriesStoreContract } from './deliveries-store-contract.js';
import { describeEventsStoreContract } from './events-store-contract.js';
import { describeJobLeasesStoreContract } from './job-leases-store-contract.js';
import { describeReportsStoreContract } from './reports-store-contract.js';
import { describeSignalsStoreContract, notifyUntilHeard } from './signals-store-contract.js';
import { testClock, type StoreFactory } from './store-under-test.js';
import { describeUnitOfWorkContract } from './unit-of-work-contract.js';
import { describeUploadsStoreContract, manifest } from './uploads-store-contract.js';

let server: PostgresServer;
let databases = 0;

beforeAll(async () => {
  server = await PostgresServer.start();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

/**
 * The cluster's superuser, over the server's Unix socket (trust), as the test kit administers it:
 * the URL's role may not create databases. A client per use, so a killed server leaves none broken.
 */
async function asSuperuser<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: server.workDir, port: server.port, user: 'postgres', database: 'postgres' });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A new, empty database owned by the relay's role; its URL, and how to drop it. */
async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `relay_${process.pid}_${++databases}`;
  await asSuperuser((client) => client.query(`CREATE DATABASE ${name} OWNER ${server.user}`));
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    url: url.href,
    drop: () => asSuperuser(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    }),
  };
}

const postgres: StoreFactory = async (now) => {
  const database = await freshDatabase();
  const store = await openPostgresRelayStore(database.url, { now, poolSize: 5 });
  return {
    store,
    async dispose() {
      await store.close();
      await database.drop();
    },
  };
};

describeUnitOfWorkContract('PostgreSQL', postgres);
describeAccountsStoreContract('PostgreSQL', postgres);
describeAuditStoreContract('PostgreSQL', postgres);
describeUploadsStoreContract('PostgreSQL', postgres);
describeDeliveriesStoreContract('PostgreSQL', postgres);
describeEventsStoreContract('PostgreSQL', postgres);
describeJobLeasesStoreContract('PostgreSQL', postgres);
describeReportsStoreContract('PostgreSQL', postgres);
describeChunkClaimsStoreContract('PostgreSQL', postgres);
describeSignalsStoreContract('PostgreSQL', postgres);

describe('PostgreSQL: relays sharing one server', () => {
  it('keeps working on statements it prepared when a newer relay\'s migration adds columns (a rolling upgrade)', async () => {
    const database = await freshDatabase();
    const store = await openPostgresRelayStore(database.url, { poolSize: 1 });
    try {
      // One connection: every call below reuses the statements prepared on it.
      const user = await store.users.create('alice', 'admin', 'hash');
      await store.audit.record({ action: 'login', actorUserId: user.id, outcome: 'success' });
      const read = async () => [await store.users.findById(user.id), await store.users.list(), await store.audit.recent(5), await store.audit.since(undefined, 5)];
      const before = await read();
      await asSuperuserOn(database.url, async (client) => {
        await client.query('ALTER TABLE users ADD COLUMN added_by_a_newer_relay text');
        await client.query('ALTER TABLE audit_log ADD COLUMN added_by_a_newer_relay text');
      });
      expect(await read()).toEqual(before);
    } finally {
      await store.close();
      await database.drop();
    }
  });

  it('migrates once when three relays open one fresh database at once', async () => {
    const database = await freshDatabase();
    const stores: PostgresRelayStore[] = [];
    try {
      stores.push(...await Promise.all(Array.from({ length: 3 }, () => openPostgresRelayStore(database.url, { poolSize: 2 }))));
      const versions = await asSuperuserOn(database.url, (client) => client.query<{ version: number }>('SELECT version FROM relaypacs_schema ORDER BY version'));
      expect(versions.rows.map((row) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((_, index) => index + 1));
      expect(versions.rows).toHaveLength(POSTGRES_MIGRATIONS.length);
      // Every one of them works on the schema.
      await stores[0]!.users.create('alice', 'admin', 'hash');
      for (const store of stores) expect((await store.users.list()).map((user) => user.username)).toEqual(['alice']);
      // A relay opening later finds nothing to do.
      stores.push(await openPostgresRelayStore(database.url, { poolSize: 1 }));
      expect((await asSuperuserOn(database.url, (client) => client.query('SELECT version FROM relaypacs_schema'))).rowCount).toBe(POSTGRES_MIGRATIONS.length);
    } finally {
      await Promise.all(stores.map((store) => store.close()));
      await database.drop();
    }
  });

  it('refuses to open a database whose schema is newer than this relay knows', async () => {
    const database = await freshDatabase();
    try {
      await (await openPostgresRelayStore(database.url, { poolSize: 1 })).close();
      const newer = POSTGRES_MIGRATIONS.length + 1;
      await asSuperuserOn(database.url, (client) => client.query('INSERT INTO relaypacs_schema (version) VALUES ($1)', [newer]));
      await expect(openPostgresRelayStore(database.url, { poolSize: 1 })).rejects.toThrow(`version ${newer}`);
    } finally {
      await database.drop();
    }
  });

  it('rolls back only the failed step of a unit of work, as SQLite\'s savepoints do, and commits the rest', async () => {
    const clock = testClock();
    const database = await freshDatabase();
    const store = await openPostgresRelayStore(database.url, { now: clock.now, poolSize: 2 });
    try {
      const user = await store.users.create('alice', 'radiographer', 'hash');
      const upload = (id: string, instances = manifest([10, 20])) => ({
        id, userId: user.id, studyInstanceUid: '1.2.3', serviceLevel: 'ROUTINE' as const, manifestHash: 'm', chunkBytes: 64,
        totalBytes: 30, expiresAt: new Date(clock.now().getTime() + 3600_000).toISOString(), instances,
      });
      const [first] = manifest([10]);
      await store.withTransaction(async (tx) => {
        await tx.uploads.insert(upload('kept'), clock.now().toISOString());
        await expect(tx.uploads.insert(upload('twice', [first!, first!]), clock.now().toISOString())).rejects.toThrow();
        await expect(tx.users.create('ALICE', 'admin', 'other')).rejects.toThrow('already exists');
        await tx.audit.record({ action: 'upload-start', outcome: 'success', target: 'kept' });
      });
      expect(await store.uploads.find('kept')).toMatchObject({ id: 'kept', totalBytes: 30 });
      expect(await store.uploads.find('twice')).toBeUndefined();
      expect((await store.audit.recent()).map((row) => row.target)).toEqual(['kept']);
    } finally {
      await store.close();
      await database.drop();
    }
  });

  it('refuses to open when the database does not answer, leaving no connection behind', async () => {
    const url = new URL(server.url);
    url.port = '1';
    await expect(openPostgresRelayStore(url.href)).rejects.toThrow();
    url.port = String(server.port);
    url.password = 'wrong';
    await expect(openPostgresRelayStore(url.href)).rejects.toThrow(/password/);
  });

  it('survives a restart of the server: calls fail while it is down and succeed once it is back', async () => {
    const clock = testClock();
    const database = await freshDatabase();
    const store = await openPostgresRelayStore(database.url, { now: clock.now, poolSize: 3 });
    try {
      const alice = await store.users.create('alice', 'radiographer', 'hash');
      await store.withTransaction(async (tx) => {
        await tx.audit.record({ action: 'user-add', outcome: 'success', target: 'alice' });
      });
      await store.ping();
      await server.kill();
      await expect(store.ping()).rejects.toThrow();
      // As the store interface speaks it: unavailable (the relay's 503), naming no host or user.
      await expect(store.users.findById(alice.id)).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.withTransaction((tx) => tx.users.list())).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.users.findById(alice.id)).rejects.not.toThrow(/127\.0\.0\.1|postgres:|relay@/);
      await server.restart();
      // Committed before the kill, so still there; the pool connects anew.
      await store.ping();
      expect((await store.users.findById(alice.id))?.username).toBe('alice');
      expect(await store.withTransaction(async (tx) => (await tx.audit.recent()).map((row) => row.target))).toEqual(['alice']);
      await store.users.create('bob', 'radiographer', 'hash');
      expect((await store.users.list()).map((user) => user.username)).toEqual(['alice', 'bob']);
    } finally {
      await server.restart().catch(() => {}); // refused while it runs: only a test failed between kill and restart needs it
      await store.close();
      await database.drop();
    }
  });

  describe('two relays on one database', () => {
    const clock = testClock();
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let one: RelayStore;
    let other: RelayStore;

    beforeAll(async () => {
      database = await freshDatabase();
      [one, other] = await Promise.all([
        openPostgresRelayStore(database.url, { now: clock.now, poolSize: 4 }),
        openPostgresRelayStore(database.url, { now: clock.now, poolSize: 4 }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([one?.close(), other?.close()]);
      await database?.drop();
    });

    it('refuses on one relay a refresh token already used on the other', async () => {
      const user = await one.users.create('rotating', 'radiographer', 'hash');
      const sessionId = await one.sessions.create(user.id, new Date(clock.now().getTime() + 3600_000));
      const first = new RefreshTokenService(one, clock.now);
      const second = new RefreshTokenService(other, clock.now);
      const token = (await first.issue(sessionId)).token;
      expect(await first.rotate(token)).toMatchObject({ ok: true, replayed: false });
      expect(await second.rotate(token)).toMatchObject({ ok: false, reason: 'reused', sessionId });
      expect(await one.sessions.isActive(sessionId, user.id)).toBe(false);
    });

    it('lets one of racing rotations on both relays succeed', async () => {
      const user = await one.users.create('racing', 'radiographer', 'hash');
      const sessionId = await one.sessions.create(user.id, new Date(clock.now().getTime() + 3600_000));
      const services = [new RefreshTokenService(one, clock.now), new RefreshTokenService(other, clock.now)];
      const token = (await services[0]!.issue(sessionId)).token;
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => services[i % 2]!.rotate(token)));
      expect(results.filter((result) => result.ok)).toHaveLength(1);
    });

    it('counts login attempts across both relays, in parallel too', async () => {
      const limiter = (store: RelayStore) => new LoginRateLimiter({ store, maxFailuresPerUser: 3, maxAttemptsPerAddress: 100, windowSeconds: 60, now: clock.now });
      const [first, second] = [limiter(one), limiter(other)];
      expect(await first.admit('carol', '192.0.2.1')).toEqual({ allowed: true });
      expect(await second.admit('carol', '192.0.2.2')).toEqual({ allowed: true });
      expect(await first.admit('Carol', '192.0.2.3')).toEqual({ allowed: true });
      expect(await second.admit('carol', '192.0.2.4')).toMatchObject({ allowed: false, scope: 'user' });
      const decisions = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? first : second).admit('dave', `192.0.2.${i}`)));
      expect(decisions.filter((decision) => decision.allowed)).toHaveLength(3);
    });

    it('lets one relay claim an item both try to claim', async () => {
      const user = await one.users.create('claimer', 'radiographer', 'hash');
      const now = clock.now().toISOString();
      await one.uploads.insert({
        id: 'claimed', userId: user.id, studyInstanceUid: '1.2.3', serviceLevel: 'ROUTINE', manifestHash: 'm', chunkBytes: 64,
        totalBytes: 10, expiresAt: new Date(clock.now().getTime() + 3600_000).toISOString(), instances: manifest([10]),
      }, now);
      await one.uploads.setInstanceState('claimed', 0, 'verified', { transferSyntaxUid: '1.2.840.10008.1.2.1' });
      await Promise.all([one.deliveries.enqueue('claimed', 0, ['pacs'], now), other.deliveries.enqueue('claimed', 0, ['pacs'], now)]);
      const [item] = await other.deliveries.due('pacs', now, 10);
      expect(item).toMatchObject({ uploadId: 'claimed', index: 0 });
      for (let round = 0; round < 5; round++) {
        const lease = (owner: string) => ({ owner, until: new Date(clock.now().getTime() + 60_000).toISOString() });
        const claims = await Promise.all([claimOne(one.deliveries, item!.deliveryId, 0, now, lease('one')), claimOne(other.deliveries, item!.deliveryId, 0, now, lease('other'))]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        await one.deliveries.retryLater(item!.deliveryId, 0, now, 'again', now);
      }
      expect(await one.deliveries.itemsOf('claimed')).toMatchObject([{ destination: 'pacs', index: 0, state: 'queued', attempts: 5 }]);
    });

    it('tells the other relay of each topic with its payload, not the sender, and not a listener that left', async () => {
      const heard: Record<string, string[]> = { deliveries: [], events: [], keys: [], own: [], gone: [] };
      const off = [
        other.signals.listen('deliveries', (payload) => heard.deliveries!.push(payload)),
        other.signals.listen('events', (payload) => heard.events!.push(payload)),
        other.signals.listen('keys', (payload) => heard.keys!.push(payload)),
        other.signals.listen('keys', () => {
          throw new Error('a broken listener does not keep the signal from the others');
        }),
        one.signals.listen('deliveries', (payload) => heard.own!.push(payload)),
      ];
      const leaving = other.signals.listen('events', (payload) => heard.gone!.push(payload));
      try {
        await notifyUntilHeard(one.signals, 'deliveries', '["pacs"]', heard.deliveries!);
        await notifyUntilHeard(one.signals, 'keys', '', heard.keys!);
        leaving();
        await notifyUntilHeard(one.signals, 'events', '', heard.events!);
        expect(heard.deliveries!.every((payload) => payload === '["pacs"]')).toBe(true);
        expect(heard.own).toEqual([]);
        expect(heard.gone!.length).toBeLessThan(heard.events!.length + 1);
        const before = heard.gone!.length;
        await notifyUntilHeard(one.signals, 'events', 'after', heard.events!);
        expect(heard.gone!.length).toBe(before);
      } finally {
        for (const unlisten of off) unlisten();
      }
    });

    it('tells one relay what the other signals, and after its listening session was cut, says it may have missed some, then hears again', async () => {
      const heard: string[] = [];
      const unlisten = other.signals.listen('deliveries', (payload) => heard.push(payload));
      try {
        await notifyUntilHeard(one.signals, 'deliveries', '["from-one"]', heard);
        // The server ends the listening session (a restart, a failover, an administrator).
        const ended = await asSuperuserOn(database.url, (client) => client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE application_name = 'relaypacs-relay-listen' AND datname = current_database()`));
        expect(ended.rowCount).toBe(2); // one per relay that listens (both have, by now)
        await vi.waitFor(() => expect(heard).toContain(''), { timeout: 10_000, interval: 50 });
        await notifyUntilHeard(one.signals, 'deliveries', '["after"]', heard);
      } finally {
        unlisten();
      }
    });

    it('has every relay sign with the new key as soon as a rotation is announced', async () => {
      const ring = await SigningKeyRing.open(other.signingKeys, { longestTokenSeconds: 600, signals: other.signals });
      ring.start();
      try {
        const before = ring.kids()[0];
        // What `relaypacs-relay keys rotate` does, here through the first relay's store.
        await one.signingKeys.rotate(await newSigningJwk());
        await vi.waitFor(async () => {
          await one.signals.notify('keys', '');
          expect(ring.kids()[0]).not.toBe(before);
        }, { timeout: 10_000, interval: 200 });
        expect(ring.kids()[1]).toBe(before);
      } finally {
        ring.stop();
      }
    });

    it('records one of two overlapping chunks received by different relays', async () => {
      const user = await one.users.create('chunker', 'radiographer', 'hash');
      const now = clock.now().toISOString();
      const expiresAt = new Date(clock.now().getTime() + 3600_000).toISOString();
      await one.uploads.insert({
        id: 'chunked', userId: user.id, studyInstanceUid: '1.2.4', serviceLevel: 'ROUTINE', manifestHash: 'm', chunkBytes: 64,
        totalBytes: 100, expiresAt, instances: manifest([100]),
      }, now);
      const results = await Promise.all([
        one.uploads.recordChunk('chunked', 0, { offset: 0, length: 60, sha256: 'a' }, now, expiresAt),
        other.uploads.recordChunk('chunked', 0, { offset: 40, length: 60, sha256: 'b' }, now, expiresAt),
      ]);
      expect(results.filter((result) => result.recorded)).toHaveLength(1);
      expect(await other.uploads.instance('chunked', 0)).toMatchObject({ receivedBytes: 60 });
    });

    it('orders overlapping chunks by the upload\'s row lock: the one that waited sees the other\'s chunk once it has the lock', async () => {
      const user = await one.users.create('waiter', 'radiographer', 'hash');
      const now = clock.now().toISOString();
      const expiresAt = new Date(clock.now().getTime() + 3600_000).toISOString();
      await one.uploads.insert({
        id: 'ordered', userId: user.id, studyInstanceUid: '1.2.5', serviceLevel: 'ROUTINE', manifestHash: 'm', chunkBytes: 64,
        totalBytes: 100, expiresAt, instances: manifest([100]),
      }, now);
      // Both chunks queue behind a lock held elsewhere, so both start before either is recorded:
      // the overlap check must take its snapshot after the lock, not when the call began.
      await asSuperuserOn(database.url, async (holder) => {
        await holder.query('BEGIN');
        await holder.query('SELECT 1 FROM uploads WHERE id = $1 FOR UPDATE', ['ordered']);
        const racing = Promise.all([
          one.uploads.recordChunk('ordered', 0, { offset: 0, length: 60, sha256: 'a' }, now, expiresAt),
          other.uploads.recordChunk('ordered', 0, { offset: 40, length: 60, sha256: 'b' }, now, expiresAt),
        ]);
        await vi.waitFor(async () => {
          const { rows } = await holder.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
          expect(rows[0]!.n).toBe(2);
        }, { timeout: 10_000, interval: 50 });
        await holder.query('COMMIT');
        const results = await racing;
        expect(results.filter((result) => result.recorded)).toHaveLength(1);
      });
      expect(await one.uploads.chunks('ordered', 0)).toHaveLength(1);
      expect(await other.uploads.instance('ordered', 0)).toMatchObject({ receivedBytes: 60 });
    });
  });
});

/** The superuser on a database given by URL (its name is the URL's path). */
async function asSuperuserOn<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ host: server.workDir, port: server.port, user: 'postgres', database: new URL(url).pathname.slice(1) });
  client.on('error', () => {});
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end().catch(() => {});
  }
}
