/**
 * Jobs that must run on one relay at a time among the relays sharing one database: the expiry and
 * orphan sweep. Running them on every relay at once would be safe (each step is guarded in the
 * stores and storage deletes are idempotent) but would multiply their load by the number of relays,
 * and two relays deleting the same upload's objects race each other for nothing. The relay holding
 * a job's lease runs it and renews the lease each time; when that relay dies, the lease lapses and
 * the next relay to try takes it over.
 */
export interface JobLeasesStore {
  /**
   * Takes the lease on `job` for `owner` until `until`, or renews it: true when `owner` holds it
   * now (it was free, its holder's lease ended before `now`, or `owner` held it already).
   */
  acquire(job: string, owner: string, now: string, until: string): Promise<boolean>;
  /** Gives the lease up, if `owner` holds it (a graceful stop: the next relay need not wait for it to lapse). */
  release(job: string, owner: string): Promise<void>;
}
