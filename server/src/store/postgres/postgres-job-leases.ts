import type { JobLeasesStore } from '../job-leases-store.js';
import type { Db } from './postgres-db.js';

/** JobLeasesStore's SQL: one row per job, taken over only once its lease ended. */
export class PostgresJobLeases implements JobLeasesStore {
  constructor(private readonly db: Db) {}

  async acquire(job: string, owner: string, now: string, until: string): Promise<boolean> {
    // One statement: of relays racing for a job never leased, the second INSERT waits for the
    // first's commit and then evaluates the DO UPDATE's condition against that row, which is not its
    // own and has not lapsed: it changes nothing, and is told so.
    const { rowCount } = await this.db.query(`INSERT INTO job_leases (job, owner, lease_until) VALUES ($1, $2, $3)
      ON CONFLICT (job) DO UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until
      WHERE job_leases.owner = EXCLUDED.owner OR job_leases.lease_until < $4`, [job, owner, until, now]);
    return rowCount === 1;
  }

  async release(job: string, owner: string): Promise<void> {
    await this.db.query('DELETE FROM job_leases WHERE job = $1 AND owner = $2', [job, owner]);
  }
}
