import { randomBytes } from 'node:crypto';

/**
 * A small deterministic PRNG (mulberry32) so that `--seed N` reproduces a study exactly,
 * while an unseeded run draws its seed from the OS so UIDs never collide between runs.
 */
export class SeededRandom {
  private state: number;

  constructor(seed?: number) {
    this.state = (seed ?? randomBytes(4).readUInt32LE(0)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick() from an empty list');
    return item;
  }

  bytes(count: number): Buffer {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i++) out[i] = this.int(0, 255);
    return out;
  }
}
