/** One progress line on a terminal; plain lines (or nothing) when output is a pipe or a log. */
export class ProgressLine {
  private last = 0;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  get isTty(): boolean {
    return this.stream.isTTY === true;
  }

  update(label: string, done: number, total: number): void {
    if (!this.isTty) return;
    const now = Date.now();
    if (done < total && now - this.last < 100) return;
    this.last = now;
    const width = 28;
    const fraction = total > 0 ? Math.min(1, done / total) : 1;
    const filled = Math.round(fraction * width);
    this.stream.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${Math.round(fraction * 100)}%\x1b[K`);
  }

  done(): void {
    if (this.isTty) this.stream.write('\n');
  }
}
