import type { AccountsStores } from './accounts-store.js';
import type { AuditStore } from './audit-store.js';
import type { ChunkClaimsStore } from './chunk-claims-store.js';
import type { DeliveriesStore } from './deliveries-store.js';
import type { EventsStore } from './events-store.js';
import type { JobLeasesStore } from './job-leases-store.js';
import type { ReportsStore } from './reports-store.js';
import type { SignalsStore } from './signals-store.js';
import type { UploadsStore } from './uploads-store.js';

/**
 * The database does not answer (down, restarting, unreachable, out of connections): the call did
 * nothing (or, when the connection was lost during its COMMIT, nobody can tell: every operation a
 * client retries is idempotent, a chunk sent again, an init resumed), and the same call later may
 * succeed. A backend throws this rather than its driver's
 * error, so the relay answers 503 with Retry-After (not 500) and recovers by itself when the
 * database is back.
 */
export class StoreUnavailableError extends Error {}

/** The stores a transaction offers; RelayStore offers the same outside one. */
export interface TransactionStores extends AccountsStores {
  audit: AuditStore;
  uploads: UploadsStore;
  deliveries: DeliveriesStore;
  jobLeases: JobLeasesStore;
  events: EventsStore;
  reports: ReportsStore;
}

/**
 * The relay's state behind one interface, so a second backend (PostgreSQL, shared by N relays) can
 * replace SQLite without touching service logic. Services see only these interfaces; every SQL
 * statement lives in store/sqlite.
 *
 * Outside a transaction each store call is atomic on its own and sees every transaction committed
 * before it.
 */
export interface RelayStore extends TransactionStores {
  /** Not part of units of work: a claim is for the moment a chunk is written, never kept with other changes. */
  chunkClaims: ChunkClaimsStore;
  /** Wake-ups between the relays on this store (hints; listeners poll as well). */
  signals: SignalsStore;
  /**
   * Runs `work` as one unit of work: every call it makes through `tx` commits together when it
   * resolves, or not at all when it throws (the error is rethrown). Transactions are serialized,
   * against this relay's and other relays' alike, so what `work` read stays true until it commits.
   *
   * `work` must do nothing but store calls through `tx` and computation: no network or storage I/O,
   * no password hashing, no waiting on anything else. A transaction holds the database's write
   * lock (SQLite) or the units-of-work advisory lock (PostgreSQL) while it runs, so whatever it
   * waits for, every other unit of work of every relay waits for too. A store call that rejects
   * inside `work` may leave the transaction unusable (PostgreSQL aborts it): let the error end the
   * work rather than carry on (users.create's UserExistsError and a failed uploads.insert are the
   * exceptions: they leave the transaction as it was). Calling the store itself (not `tx`) from `work` is refused:
   * it would wait for the transaction it runs in. For the same reason `work` must have no effect
   * but through `tx`: a backend whose transactions can fail to serialize (PostgreSQL's SERIALIZABLE)
   * may roll back and run it again.
   */
  withTransaction<T>(work: (tx: TransactionStores) => Promise<T>): Promise<T>;
  /**
   * Resolves once everything committed before the call is durable. Callers await it before they
   * acknowledge anything (app.ts, before every HTTP answer), so commits themselves need not wait
   * for the disk.
   */
  flush(): Promise<void>;
  /** Rejects when the database does not answer a trivial query (GET /readyz's database check). */
  ping(): Promise<void>;
  /** Waits for a flush under way, then closes. */
  close(): Promise<void>;
}
