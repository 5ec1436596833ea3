/**
 * Adaptive chunk size: halves after a timeout or failure (a bad link loses less per retry), doubles
 * after a run of successes (a good link spends less time per request), always within the relay's
 * announced limits.
 */
export class ChunkSizer {
  private size: number;
  private streak = 0;

  constructor(private readonly min: number, private readonly max: number, preferred: number) {
    this.size = clamp(preferred, min, max);
  }

  get current(): number {
    return this.size;
  }

  succeeded(): void {
    if (++this.streak >= 4) {
      this.size = clamp(this.size * 2, this.min, this.max);
      this.streak = 0;
    }
  }

  failed(): void {
    this.streak = 0;
    this.size = clamp(Math.floor(this.size / 2), this.min, this.max);
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, value));
}
