import type { JobLeasesStore } from '../job-leases-store.js';
import type { Synchronous } from './async-facade.js';
import type { RelayDatabase } from './database.js';

/** JobLeasesStore's SQL: one row per job, taken over only once its lease ended. */
export class SqliteJobLeases implements Synchronous<JobLeasesStore> {
  constructor(private readonly db: RelayDatabase) {}

  acquire(job: string, owner: string, now: string, until: string): boolean {
    // One statement: an insert for a job never leased, else an update only where the lease is the
    // owner's or has ended. A relay losing the race changes nothing and is told so.
    return this.db.prepare(`INSERT INTO job_leases (job, owner, lease_until) VALUES (?, ?, ?)
      ON CONFLICT (job) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
      WHERE job_leases.owner = excluded.owner OR job_leases.lease_until < ?`).run(job, owner, until, now).changes === 1;
  }

  release(job: string, owner: string): void {
    this.db.prepare('DELETE FROM job_leases WHERE job = ? AND owner = ?').run(job, owner);
  }
}
