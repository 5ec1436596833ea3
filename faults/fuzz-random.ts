// The malformed-input fuzzer's random numbers: xorshift32 (Marsaglia 2003), small and exactly
// reproducible. Each iteration gets its own stream derived from the run's seed and its number, so
// one mutant can be rebuilt alone (RELAYPACS_FUZZ_SEED=S RELAYPACS_FUZZ_ONLY=I) without replaying
// the ones before it.
import { randomBytes } from 'node:crypto';

export class Xorshift32 {
  private state: number;

  constructor(seed: number) {
    // xorshift never leaves 0: any other fixed start will do.
    this.state = (seed >>> 0) || 0x9e3779b9;
  }

  /** The stream of iteration `iteration` of a run seeded with `seed` (murmur3's finaliser as the mixer). */
  static forIteration(seed: number, iteration: number): Xorshift32 {
    let x = (seed ^ Math.imul(iteration + 1, 0x9e3779b9)) >>> 0;
    x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
    x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
    return new Xorshift32((x ^ (x >>> 16)) >>> 0);
  }

  /** Uniform 32-bit unsigned integer. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.float() * (max - min + 1));
  }

  chance(probability: number): boolean {
    return this.float() < probability;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick() from an empty list');
    return items[this.int(0, items.length - 1)] as T;
  }

  bytes(count: number): Buffer {
    const out = Buffer.alloc(count);
    for (let i = 0; i < count; i++) out[i] = this.next() & 0xff;
    return out;
  }
}

/** The run's seed: RELAYPACS_FUZZ_SEED (decimal or 0x-hex) when set, else a fresh one from the OS. */
export function fuzzSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env.RELAYPACS_FUZZ_SEED;
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`RELAYPACS_FUZZ_SEED must be a 32-bit unsigned integer, got ${given}`);
    return seed;
  }
  return randomBytes(4).readUInt32LE(0);
}
