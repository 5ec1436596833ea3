/**
 * A one-line progress bar for terminals. On anything that is not a TTY (CI logs, pipes) it stays
 * quiet, so logs hold results rather than hundreds of carriage returns.
 */
export class ProgressBar {
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly width = 30,
  ) {}

  get enabled(): boolean {
    return this.stream.isTTY === true;
  }

  update(done: number, total: number, detail = ''): void {
    if (!this.enabled) return;
    const now = Date.now();
    // Redraw at most ~20 times a second, but always draw the final state.
    if (done < total && now - this.lastDraw < 50) return;
    this.lastDraw = now;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * this.width);
    const elapsed = (now - this.started) / 1000;
    const eta = fraction > 0 && fraction < 1 ? ` eta ${Math.ceil((elapsed / fraction) * (1 - fraction))}s` : '';
    this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${' '.repeat(this.width - filled)}] ${done}/${total}${detail ? ` ${detail}` : ''}${eta}\x1b[K`);
    if (done >= total) this.stream.write('\n');
  }
}
