import { chmodSync, closeSync, openSync } from 'node:fs';
import { openDatabase, type RelayDatabase } from './database.js';
import { WalDurability } from './wal-durability.js';
import type { RelayStore, TransactionStores } from '../relay-store.js';
import { asyncFacade } from './async-facade.js';
import { SqliteAudit } from './sqlite-audit.js';
import { SqliteDeliveries } from './sqlite-deliveries.js';
import { ProcessChunkClaims } from './process-chunk-claims.js';
import { ProcessSignals } from './process-signals.js';
import { SqliteEvents } from './sqlite-events.js';
import { SqliteJobLeases } from './sqlite-job-leases.js';
import { SqliteLoginAttempts } from './sqlite-login-attempts.js';
import { SqliteReports } from './sqlite-reports.js';
import { SqliteRefreshTokens } from './sqlite-refresh-tokens.js';
import { SqliteSessions } from './sqlite-sessions.js';
import { SqliteSigningKeys } from './sqlite-signing-keys.js';
import { SqliteUploads } from './sqlite-uploads.js';
import { SqliteUsers } from './sqlite-users.js';
import { TransactionGate, type TransactionScope } from './transaction-gate.js';

export interface SqliteRelayStoreOptions {
  /** The clock stamping rows (created_at, revoked_at, audit times...). */
  now?: () => Date;
  /**
   * The server's mode: commits reach the disk at flush(), which it awaits before every answer
   * (synchronous=NORMAL, see database.ts and WalDurability). Without it every commit is on disk
   * when it returns (synchronous=FULL) and flush() has nothing to do: the command line's mode.
   */
  flushedByCaller?: boolean;
}

/** The synchronous SQL behind each store; the facades make them the async interfaces. */
interface SqlStores {
  users: SqliteUsers;
  sessions: SqliteSessions;
  refreshTokens: SqliteRefreshTokens;
  loginAttempts: SqliteLoginAttempts;
  signingKeys: SqliteSigningKeys;
  audit: SqliteAudit;
  uploads: SqliteUploads;
  deliveries: SqliteDeliveries;
  jobLeases: SqliteJobLeases;
  events: SqliteEvents;
  reports: SqliteReports;
}

/** Opens (creating and migrating) the relay's SQLite file as a RelayStore. */
export function openSqliteRelayStore(path: string, options: SqliteRelayStoreOptions = {}): SqliteRelayStore {
  keepPrivate(path);
  return new SqliteRelayStore(openDatabase(path, { flushedByCaller: options.flushedByCaller ?? false }), path, options);
}

/**
 * The file holds the JWT signing key and the password hashes: mode 0600, readable by the relay's
 * account only (as the key file in DATA/keys was), inside the 0700 data directory. SQLite gives the
 * -wal and -shm files it creates the database file's mode; ones left by an older relay are set too.
 */
function keepPrivate(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}

/**
 * The RelayStore on one better-sqlite3 connection in WAL mode. A unit of work is BEGIN IMMEDIATE
 * ... COMMIT (ROLLBACK when the work throws): IMMEDIATE takes the write lock before the first read,
 * so what the work read cannot change under it, whichever process writes the file (a second relay,
 * the CLI). Units of work on this connection take turns (TransactionGate), and a call outside one
 * waits for the open one rather than landing inside it.
 *
 * Open one SqliteRelayStore per file per process: a second connection in the same process would
 * wait for the first's write lock synchronously (busy_timeout), stopping the very event loop the
 * first needs to commit.
 */
export class SqliteRelayStore implements RelayStore {
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
  readonly chunkClaims: RelayStore['chunkClaims'] = new ProcessChunkClaims();
  readonly signals: RelayStore['signals'] = new ProcessSignals();

  private readonly gate = new TransactionGate();
  private readonly sql: SqlStores;
  private readonly durability: WalDurability | undefined;

  /**
   * @param connection opened by openDatabase (migrated); this store owns it and closes it.
   * @param path the database file, whose `-wal` file flush() syncs.
   */
  constructor(private readonly connection: RelayDatabase, path: string, options: SqliteRelayStoreOptions = {}) {
    const now = options.now ?? (() => new Date());
    this.sql = {
      users: new SqliteUsers(connection, now),
      sessions: new SqliteSessions(connection, now),
      refreshTokens: new SqliteRefreshTokens(connection),
      loginAttempts: new SqliteLoginAttempts(connection),
      signingKeys: new SqliteSigningKeys(connection, now),
      audit: new SqliteAudit(connection, now),
      uploads: new SqliteUploads(connection),
      deliveries: new SqliteDeliveries(connection),
      jobLeases: new SqliteJobLeases(connection),
      events: new SqliteEvents(connection),
      reports: new SqliteReports(connection, now),
    };
    this.durability = options.flushedByCaller ? new WalDurability(connection, `${path}-wal`) : undefined;
    const outside = this.facades(<R>(op: () => R) => this.gate.call(op));
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
  }

  /**
   * The connection, for tests that look into the file (the services see only the interfaces). A
   * write through it bypasses the gate and the unit-of-work rules: tests only.
   */
  get database(): RelayDatabase {
    return this.connection;
  }

  withTransaction<T>(work: (tx: TransactionStores) => Promise<T>): Promise<T> {
    const scope: TransactionScope = { open: true };
    return this.gate.transaction(scope, async () => {
      this.connection.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(this.facades(<R>(op: () => R) => inScope(scope, op)));
        this.connection.exec('COMMIT');
        return result;
      } catch (error) {
        // A failed COMMIT (a full disk) can leave the transaction open too: never leave it so.
        if (this.connection.inTransaction) this.connection.exec('ROLLBACK');
        throw error;
      } finally {
        scope.open = false;
      }
    });
  }

  flush(): Promise<void> {
    return this.durability?.flush() ?? Promise.resolve();
  }

  async ping(): Promise<void> {
    await this.gate.call(() => this.connection.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    await this.gate.idle();
    await this.durability?.close();
    this.connection.close();
  }

  private facades(call: <R>(op: () => R) => Promise<R>): TransactionStores {
    const { users, sessions, refreshTokens, loginAttempts, signingKeys, audit, uploads, deliveries, jobLeases, events, reports } = this.sql;
    return {
      users: asyncFacade(users, call),
      sessions: asyncFacade(sessions, call),
      refreshTokens: asyncFacade(refreshTokens, call),
      loginAttempts: asyncFacade(loginAttempts, call),
      signingKeys: asyncFacade(signingKeys, call),
      audit: asyncFacade(audit, call),
      uploads: asyncFacade(uploads, call),
      deliveries: asyncFacade(deliveries, call),
      jobLeases: asyncFacade(jobLeases, call),
      events: asyncFacade(events, call),
      reports: asyncFacade(reports, call),
    };
  }
}

/** A call through a transaction's stores: runs in it while it is open, refused once it has ended. */
function inScope<R>(scope: TransactionScope, op: () => R): Promise<R> {
  if (!scope.open) return Promise.reject(new Error('a store of a unit of work was used after its transaction ended'));
  try {
    return Promise.resolve(op());
  } catch (error) {
    return Promise.reject(error as Error);
  }
}
