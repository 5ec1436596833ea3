import { createHash } from 'node:crypto';
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg';
import { StoreUnavailableError } from '../relay-store.js';

/**
 * Advisory lock keys, in the two-int4 form (namespace, key) so they cannot meet a one-bigint key
 * another application on the same database might use. The namespace is "RPCS" in ASCII.
 */
const NAMESPACE = 0x52504353;
/** Session lock held while migrating at open: N relays starting together migrate once. */
export const MIGRATION_LOCK: [number, number] = [NAMESPACE, 1];
/** Transaction lock every unit of work takes after BEGIN: units of work run one at a time across relays. */
export const UNIT_OF_WORK_LOCK: [number, number] = [NAMESPACE, 2];
/**
 * Namespace of the transaction locks AuditStore.recordOnce takes on hashtext(action, target,
 * outcome): the check and the write are one step against relays racing to write the same row.
 * (A collision of two hashes only makes two different rows wait for each other.)
 */
export const AUDIT_ONCE_NAMESPACE = 0x52504341; // "RPCA"
/**
 * Transaction lock an event's append holds until it commits: events then commit in the order of
 * their ids, so a relay reading "after id N" never passes over an id that commits later (with a bare
 * sequence, id 11 may commit before id 10, and a reader that saw 11 would never see 10).
 */
export const EVENT_APPEND_LOCK: [number, number] = [NAMESPACE, 3];
/** Transaction lock of the signing-key writes (the first key, a rotation): one at a time across relays. */
export const SIGNING_KEYS_LOCK: [number, number] = [NAMESPACE, 4];
/**
 * Report inserts, one at a time across relays (PostgresReports.record): ids then commit in the
 * order they are drawn, so a client paging by id (GET /reports?after=) never passes over one that
 * commits later with a lower id.
 */
export const REPORT_INSERT_LOCK: [number, number] = [NAMESPACE, 5];

/** What a store's SQL runs on: the pool (outside a unit of work) or one transaction's client. */
export interface Db {
  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
  /**
   * Runs several statements as one atomic step: their own BEGIN ... COMMIT on one client taken
   * from the pool, or, inside a unit of work, a savepoint (as SQLite's nested transactions are), so
   * a step that fails leaves the unit of work as it was before the step.
   */
  atomic<T>(run: (db: Db) => Promise<T>): Promise<T>;
  /**
   * One statement that may fail for reasons the caller expects (a constraint): alone, it is atomic
   * already; inside a unit of work it runs in a savepoint, because PostgreSQL, unlike SQLite,
   * aborts the whole transaction when one of its statements fails.
   */
  step<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>>;
}

/**
 * Statements with parameters run as named prepared statements, prepared once per connection: the
 * server then skips parsing and planning them again. Measured on this project's small-instance
 * path (300 instances, three runs each): PostgreSQL's CPU 0.68 s against 1.1 s unnamed. Names come
 * from the text, which is always a constant of the stores (bounded: never built from values).
 * Statements without parameters (BEGIN, SAVEPOINT) go unprepared. Two consequences: a prepared
 * statement names its columns, never `*` (a later migration adding one would fail it), and a
 * PgBouncer in transaction mode needs its max_prepared_statements (1.21+).
 */
const statementNames = new Map<string, string>();
function prepared(text: string, values?: unknown[]): QueryConfig {
  if (values === undefined) return { text };
  let name = statementNames.get(text);
  if (!name) {
    name = `relaypacs_${createHash('sha1').update(text).digest('hex').slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/** SQLSTATEs after which a transaction may simply run again: serialization failure, deadlock. */
const RETRYABLE = new Set(['40001', '40P01']);
export const MAX_ATTEMPTS = 3;

export function isRetryable(error: unknown): boolean {
  return RETRYABLE.has((error as { code?: string } | null)?.code ?? '');
}

/**
 * A client checked out of the pool. pg-pool listens for a client's 'error' only while it is idle;
 * a checked-out client whose connection drops between two queries would emit it unheard and end
 * the process. Such an error is kept so the client is destroyed, not put back, on release.
 */
export async function checkOut(pool: Pool): Promise<{ client: PoolClient; release: (destroy?: Error | true) => void }> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (error: Error) => (broken = error);
  client.on('error', onError);
  return {
    client,
    release(destroy?: Error | true) {
      client.removeListener('error', onError);
      client.release(broken ?? destroy ?? false);
    },
  };
}

/** One client inside a transaction (a unit of work, or an atomic step of the pool). */
export class ClientDb implements Db {
  private savepoints = 0;

  constructor(private readonly client: PoolClient) {}

  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    return this.client.query<R>(prepared(text, values));
  }

  step<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    return this.atomic((db) => db.query<R>(text, values));
  }

  async atomic<T>(run: (db: Db) => Promise<T>): Promise<T> {
    const name = `relaypacs_step_${++this.savepoints}`;
    try {
      await this.client.query(`SAVEPOINT ${name}`);
      try {
        const result = await run(this);
        await this.client.query(`RELEASE SAVEPOINT ${name}`);
        return result;
      } catch (error) {
        await this.client.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => {});
        await this.client.query(`RELEASE SAVEPOINT ${name}`).catch(() => {});
        throw error;
      }
    } finally {
      this.savepoints--;
    }
  }
}

/** The pool, outside any unit of work: each query autocommits; an atomic step is its own transaction. */
export class PoolDb implements Db {
  constructor(private readonly pool: Pool) {}

  query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    return this.pool.query<R>(prepared(text, values));
  }

  async step<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<R>> {
    // One statement autocommits: after a deadlock it had no effect, so it runs again, as atomic() does.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.pool.query<R>(prepared(text, values));
      } catch (error) {
        if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }

  async atomic<T>(run: (db: Db) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await inTransaction(this.pool, (client) => run(new ClientDb(client)));
      } catch (error) {
        // Deadlocks between atomic steps (row locks taken in different orders) are PostgreSQL's,
        // not the caller's: the step had no effect, so it runs again.
        if (!isRetryable(error) || attempt >= MAX_ATTEMPTS) throw error;
      }
    }
  }
}

/**
 * BEGIN (or `begin`: BEGIN and statements without parameters, sent as one simple query, one round
 * trip) on a client of its own, `run`, COMMIT; ROLLBACK when `run` (or the COMMIT) throws. The
 * client goes back to the pool afterwards, or is destroyed when even ROLLBACK failed (its
 * connection is gone, or its session is in a state nobody knows).
 */
export async function inTransaction<T>(pool: Pool, run: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> {
  const { client, release } = await checkOut(pool);
  let destroy: Error | undefined;
  try {
    await client.query(begin);
    const result = await run(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    // After a failed COMMIT the transaction is over already; ROLLBACK then only warns.
    await client.query('ROLLBACK').catch((rollbackError: unknown) => (destroy = rollbackError as Error));
    throw error;
  } finally {
    release(destroy);
  }
}

/** Socket errors of a connection that could not be made or was lost. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/**
 * SQLSTATEs of a database that cannot serve now (PostgreSQL Appendix A): class 08 (connection
 * exception), 57P01-57P03 (shut down, crashed, starting up) and 53300 (too many connections).
 */
const UNAVAILABLE_STATES = /^(08...|57P0[123]|53300)$/;

/**
 * The driver's error as the store interface speaks it: a database that does not answer (down,
 * restarting, unreachable, the pool's connection timeout) is StoreUnavailableError, whose message
 * names no host or user; anything else is passed on as it is.
 */
export function asStoreError(error: unknown): unknown {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const unavailable = (code !== undefined && (CONNECTION_ERRNOS.has(code) || UNAVAILABLE_STATES.test(code)))
    || /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(message ?? '');
  return unavailable ? new StoreUnavailableError(`the database does not answer (${code ?? 'connection lost'})`, { cause: error }) : error;
}
