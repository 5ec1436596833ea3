/**
 * The RelayStore on PostgreSQL: one database shared by N relays (issue 17).
 *
 * Driver: pg (node-postgres) rather than postgres (porsager). It is the most used and most
 * maintained PostgreSQL driver for Node, and the test kit already runs on it (one driver, one
 * version, in the repository). Its Pool hands out plain Clients, which is what this store needs: a
 * unit of work is explicit BEGIN ... COMMIT on one checked-out client, held across the work's
 * awaits, and a later LISTEN/NOTIFY (relay events across relays) wants one dedicated Client outside
 * the pool, which pg gives as is. porsager's tagged templates are pleasant but manage transactions
 * through their own callback API (sql.begin), and its connection options differ from libpq's.
 * pg takes the URL as IT writes it for psql, libpq's parameters included (sslmode, sslrootcert,
 * sslcert, sslkey, application_name...), through pg-connection-string.
 *
 * pg is loaded when a store is opened (a dynamic import), so a relay on SQLite never loads it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Client, CustomTypesConfig, Pool, PoolConfig, types as pgTypes } from 'pg';
import type { RelayStore, TransactionStores } from '../relay-store.js';
import { PostgresAudit } from './postgres-audit.js';
import { PostgresChunkClaims } from './postgres-chunk-claims.js';
import { asStoreError, checkOut, ClientDb, inTransaction, isRetryable, MAX_ATTEMPTS, PoolDb, UNIT_OF_WORK_LOCK, type Db } from './postgres-db.js';
import { PostgresDeliveries } from './postgres-deliveries.js';
import { PostgresEvents } from './postgres-events.js';
import { PostgresReports } from './postgres-reports.js';
import { PostgresJobLeases } from './postgres-job-leases.js';
import { PostgresLoginAttempts } from './postgres-login-attempts.js';
import { migratePostgres } from './postgres-migrations.js';
import { PostgresRefreshTokens } from './postgres-refresh-tokens.js';
import { PostgresSessions } from './postgres-sessions.js';
import { PostgresSignals } from './postgres-signals.js';
import { PostgresSigningKeys } from './postgres-signing-keys.js';
import { PostgresUploads } from './postgres-uploads.js';
import { PostgresUsers } from './postgres-users.js';

export interface PostgresRelayStoreOptions {
  /** The clock stamping rows (created_at, revoked_at, audit times...). */
  now?: () => Date;
  /** Connections this relay opens at most (default 10). N relays open up to N times as many. */
  poolSize?: number;
}

/** How long GET /readyz waits for the database to answer SELECT 1. */
const PING_TIMEOUT_MS = 3_000;
/** A unit of work's BEGIN and its lock as one simple query: one round trip (the keys are constants). */
const BEGIN_UNIT_OF_WORK = `BEGIN; SELECT pg_advisory_xact_lock(${UNIT_OF_WORK_LOCK[0]}, ${UNIT_OF_WORK_LOCK[1]})`;

/**
 * Connection settings; the URL's own parameters win over these (pg merges the parsed URL last).
 * - connectionTimeoutMillis: how long a call waits for a connection, new or from a full pool. With
 *   the database down or unreachable, calls fail after this instead of hanging (the request answers
 *   503), and succeed again once it is back: the pool connects anew.
 * - idleTimeoutMillis: idle connections close after 30 s, so a quiet relay holds few of the
 *   server's max_connections, which N relays share.
 * - statement_timeout: no statement runs (or waits for a lock, the unit-of-work lock included)
 *   longer than 30 s; a stuck one fails rather than holding its locks against every relay.
 * - idle_in_transaction_session_timeout: a unit of work does nothing but store calls, so a session
 *   idle in a transaction for a minute is a bug or a hung relay: the server ends it and its locks go.
 * - synchronous_commit=on (the default, set explicitly against a server configured otherwise): a
 *   COMMIT returns once its WAL is on disk, which is what lets flush() resolve at once.
 * - keepAlive: TCP keepalive, so a connection to a server that vanished is noticed.
 * PgBouncer in transaction mode would refuse the startup parameters (statement_timeout, options)
 * unless it ignores them, and cannot hold the session lock the migrations take: connect directly.
 */
function poolConfig(url: string, poolSize: number): PoolConfig {
  return {
    connectionString: url,
    max: poolSize,
    application_name: 'relaypacs-relay',
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 30_000,
    idle_in_transaction_session_timeout: 60_000,
    options: '-c synchronous_commit=on',
    keepAlive: true,
  };
}

const INT8_OID = 20;
const TIMESTAMPTZ_OID = 1184;

/**
 * How rows come back, for this pool only (pg's global parsers stay as they are):
 * - bigint (ids, sizes, counts) as a JS number: every value the relay stores is far below 2^53;
 *   one that is not fails loudly rather than rounding.
 * - timestamptz as the ISO-8601 string the interfaces carry (toISOString(): UTC, milliseconds), the
 *   very string stored when it came from toISOString(), as every time the relay writes does.
 */
function relayTypes(types: typeof pgTypes): CustomTypesConfig {
  const parseTimestamptz = types.getTypeParser(TIMESTAMPTZ_OID, 'text') as (text: string) => Date;
  const getTypeParser = (oid: number, format?: 'text' | 'binary') => {
    if (oid === INT8_OID) return parseInt8;
    if (oid === TIMESTAMPTZ_OID) return (text: string) => parseTimestamptz(text).toISOString();
    return types.getTypeParser(oid, format);
  };
  return { getTypeParser: getTypeParser as CustomTypesConfig['getTypeParser'] };
}

function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new Error(`bigint ${text} does not fit a JS number`);
  return value;
}

/**
 * Opens a pool on the database at `url`, migrates it (once, of N relays starting together: see
 * postgres-migrations.ts), and answers the store. Rejects if the database cannot be reached.
 */
export async function openPostgresRelayStore(url: string, options: PostgresRelayStoreOptions = {}): Promise<PostgresRelayStore> {
  const { default: pg } = await import('pg');
  const pool = new pg.Pool({ ...poolConfig(url, options.poolSize ?? 10), types: relayTypes(pg.types) });
  // An idle connection that breaks (the server restarted, a network cut) is reported here; the pool
  // has already dropped it and connects anew when next asked. Without a listener it would end the process.
  pool.on('error', () => {});
  try {
    const { client, release } = await checkOut(pool);
    try {
      await migratePostgres(client);
    } finally {
      // Never back to the pool: the session's settings were changed for migrating, and after an
      // error its session lock may still be held. A new connection costs a few milliseconds, once.
      release(true);
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  // The LISTEN session: the pool's settings, named apart so an administrator can tell it in pg_stat_activity.
  const listenerConfig = { ...poolConfig(url, 1), application_name: 'relaypacs-relay-listen', types: relayTypes(pg.types) };
  return new PostgresRelayStore(pool, () => new pg.Client(listenerConfig), options);
}

/** One unit of work: its stores work while `open`, one call at a time on its client. */
interface Scope {
  open: boolean;
  /** The calls made through `tx`, in turn: savepoints of two calls must not interleave on one client. */
  turn: Promise<unknown>;
}

/**
 * The RelayStore on a pg Pool. Outside a unit of work each call takes a connection from the pool:
 * one statement (autocommit; recordChunk and enqueue call functions of several statements,
 * migration 5), or for the calls that write several (loginAttempts.add, recordOnce, events, keys),
 * their own BEGIN ... COMMIT with the row locks they need.
 *
 * A unit of work (withTransaction) checks one connection out, BEGINs, and takes (in the same round
 * trip) a transaction-level advisory lock (UNIT_OF_WORK_LOCK) before the work runs: units of work run one at a time, across
 * every relay on the database, as RelayStore promises (what the work read stays true until it
 * commits), at READ COMMITTED, like SQLite's BEGIN IMMEDIATE. Calls outside units of work do not
 * take the lock; they run beside them, each atomic by itself. If the one lock ever limits
 * throughput, the alternative is SERIALIZABLE without it, running the work again on a serialization
 * failure (40001), which the interface already allows; units of work are few and short (a login, a
 * rotation, an instance verified and queued), so the lock is the simpler choice today.
 */
export class PostgresRelayStore implements RelayStore {
  readonly users: RelayStore['users'];
  readonly sessions: RelayStore['sessions'];
  readonly refreshTokens: RelayStore['refreshTokens'];
  readonly loginAttempts: RelayStore['loginAttempts'];
  readonly signingKeys: RelayStore['signingKeys'];
  readonly audit: RelayStore['audit'];
  readonly uploads: RelayStore['uploads'];
  readonly deliveries: RelayStore['deliveries'];
  readonly jobLeases: RelayStore['jobLeases'];
  readonly events: RelayStore['events'];
  readonly reports: RelayStore['reports'];
  readonly chunkClaims: RelayStore['chunkClaims'];
  readonly signals: PostgresSignals;

  private readonly now: () => Date;
  /** The unit of work whose work is running in the current async context, if any. */
  private readonly current = new AsyncLocalStorage<Scope>();
  private ended: Promise<void> | undefined;

  /**
   * @param pool opened and migrated by openPostgresRelayStore; this store owns it and ends it.
   * @param newClient a connection outside the pool, for LISTEN (PostgresSignals).
   */
  constructor(private readonly pool: Pool, newClient: () => Client, options: PostgresRelayStoreOptions = {}) {
    this.now = options.now ?? (() => new Date());
    const outside = bind(stores(new PoolDb(pool), this.now), (op) => this.outside(op));
    this.users = outside.users;
    this.sessions = outside.sessions;
    this.refreshTokens = outside.refreshTokens;
    this.loginAttempts = outside.loginAttempts;
    this.signingKeys = outside.signingKeys;
    this.audit = outside.audit;
    this.uploads = outside.uploads;
    this.deliveries = outside.deliveries;
    this.jobLeases = outside.jobLeases;
    this.events = outside.events;
    this.reports = outside.reports;
    this.chunkClaims = bindMethods(new PostgresChunkClaims(new PoolDb(pool)), (op) => this.outside(op));
    this.signals = new PostgresSignals(new PoolDb(pool), newClient);
  }

  async withTransaction<T>(work: (tx: TransactionStores) => Promise<T>): Promise<T> {
    this.refuseFromInsideWork();
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runOnce(work);
      } catch (raw) {
        const error = asStoreError(raw);
        // A deadlock with a call outside units of work (row locks, not the advisory lock) rolled the
        // work back: it runs again, as RelayStore allows (work has no effect but through tx).
        if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Resolves at once: every COMMIT returned only once its WAL was on disk (synchronous_commit=on,
   * see poolConfig), so whatever was committed before the call is durable already.
   */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  async ping(): Promise<void> {
    this.refuseFromInsideWork();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the database did not answer within ${PING_TIMEOUT_MS} ms`)), PING_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.pool.query('SELECT 1'), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends the pool: idle connections now, checked-out ones (a unit of work finishing) once released. */
  close(): Promise<void> {
    this.ended ??= this.signals.close().then(() => this.pool.end());
    return this.ended;
  }

  private async runOnce<T>(work: (tx: TransactionStores) => Promise<T>): Promise<T> {
    return inTransaction(this.pool, async (client) => {
      const scope: Scope = { open: true, turn: Promise.resolve() };
      const tx = bind(stores(new ClientDb(client), this.now), (op) => inScope(scope, op));
      try {
        const result = await this.current.run(scope, () => work(tx));
        await scope.turn; // a call the work did not await still belongs to it
        return result;
      } finally {
        // Closed before COMMIT or ROLLBACK is sent: a call still waiting its turn is refused, so
        // nothing runs on the connection once it is back in the pool.
        scope.open = false;
        await scope.turn;
      }
    }, BEGIN_UNIT_OF_WORK);
  }

  /** A call outside any unit of work: refused from inside a work, else run at once on the pool. */
  private outside<R>(op: () => Promise<R>): Promise<R> {
    try {
      this.refuseFromInsideWork();
    } catch (error) {
      return Promise.reject(error as Error);
    }
    return op().catch((error: unknown) => {
      throw asStoreError(error);
    });
  }

  /**
   * The store itself, called from inside a work, would run beside its unit of work rather than in
   * it (and with a small pool could wait for the connection the work holds): refused, as SQLite
   * refuses it, so a service that does so fails on either backend.
   */
  private refuseFromInsideWork(): void {
    if (this.current.getStore()?.open) {
      throw new Error('a unit of work called the store outside its transaction: use the stores it was given (tx), not the RelayStore');
    }
  }
}

/** A call through a unit of work's stores: in its turn while the unit is open, refused once it has ended. */
function inScope<R>(scope: Scope, op: () => Promise<R>): Promise<R> {
  const ended = () => new Error('a store of a unit of work was used after its transaction ended');
  if (!scope.open) return Promise.reject(ended());
  const call = scope.turn.then(() => {
    if (!scope.open) throw ended();
    return op();
  });
  scope.turn = call.catch(() => {});
  return call;
}

/** The SQL behind each store, on one Db (the pool, or a unit of work's client). */
function stores(db: Db, now: () => Date): TransactionStores {
  return {
    users: new PostgresUsers(db, now),
    sessions: new PostgresSessions(db, now),
    refreshTokens: new PostgresRefreshTokens(db),
    loginAttempts: new PostgresLoginAttempts(db),
    signingKeys: new PostgresSigningKeys(db, now),
    audit: new PostgresAudit(db, now),
    uploads: new PostgresUploads(db),
    deliveries: new PostgresDeliveries(db),
    jobLeases: new PostgresJobLeases(db),
    events: new PostgresEvents(db),
    reports: new PostgresReports(db, now),
  };
}

/** Each store's methods, every call through `call` (which decides whether and when it runs). */
function bind(sql: TransactionStores, call: <R>(op: () => Promise<R>) => Promise<R>): TransactionStores {
  const bound = {} as Record<keyof TransactionStores, unknown>;
  for (const [name, target] of Object.entries(sql) as [keyof TransactionStores, object][]) bound[name] = bindMethods(target, call);
  return bound as TransactionStores;
}

/** One store's methods, every call through `call`. */
function bindMethods<T extends object>(target: T, call: <R>(op: () => Promise<R>) => Promise<R>): T {
  const facade: Record<string, unknown> = {};
  const prototype = Object.getPrototypeOf(target) as Record<string, unknown>;
  for (const method of Object.getOwnPropertyNames(prototype)) {
    const fn = prototype[method];
    if (method === 'constructor' || typeof fn !== 'function') continue;
    facade[method] = (...args: unknown[]) => call(() => (fn as (...a: unknown[]) => Promise<unknown>).apply(target, args));
  }
  return facade as T;
}
