/**
 * One disk flush shared by everyone waiting for it. request() resolves after a run of `sync` that
 * started after the call, so whatever the caller wrote before calling is covered; callers that
 * arrive while a run is under way (it may have started before their write) share the next run. Many
 * concurrent writers then cost two flushes, not one each.
 */
export class SharedSync {
  private running: Promise<void> | undefined;
  private next: Promise<void> | undefined;

  /** `needed` tells whether anything was written since the last run started (default: assume so). */
  constructor(private readonly sync: () => Promise<void>, private readonly needed: () => boolean = () => true) {}

  /** Whether a run is under way (one started before a write now may not cover it). */
  get busy(): boolean {
    return this.running !== undefined;
  }

  request(): Promise<void> {
    if (!this.running) return this.start();
    this.next ??= this.running.catch(() => undefined).then(() => {
      this.next = undefined;
      return this.needed() ? this.start() : undefined;
    });
    return this.next;
  }

  /** Waits for the runs under way, ignoring their failures (their callers saw them). */
  async settle(): Promise<void> {
    await this.next?.catch(() => undefined);
    await this.running?.catch(() => undefined);
  }

  private start(): Promise<void> {
    const run = this.sync().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }
}
