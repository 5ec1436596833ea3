/**
 * STAT first at chunk level, within one engine: while a STAT study is sending its bytes, routine
 * studies start no new chunk (those in flight finish) and go on from where they were once no STAT
 * is sending. The link, and the bandwidth cap, then belong to the STAT study; nothing is sent twice,
 * since a held routine job keeps its place in its list of missing ranges.
 */
export class StatFirstGate {
  private sending = 0;
  private waiters: (() => void)[] = [];

  /** True while some STAT study is sending: routine chunks wait. */
  get closed(): boolean {
    return this.sending > 0;
  }

  /** A STAT study starts sending; call the answer (once is enough) when its bytes are all sent or it stops. */
  enter(): () => void {
    this.sending++;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      if (--this.sending === 0) for (const wake of this.waiters.splice(0)) wake();
    };
  }

  /** Resolves once no STAT study is sending (at once when none is). */
  async clear(): Promise<void> {
    while (this.sending > 0) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}
