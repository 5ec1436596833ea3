import type { SeededRandom } from './seeded-random.js';

/**
 * Draws frames that look like a cross-section phantom (body ellipse, bright rim, a few inserts)
 * with a little noise, so viewers show something sensible and no two frames are identical.
 * Values stay within BitsStored.
 */
export class PhantomPainter {
  private readonly base: Float32Array;
  private noiseState: number;

  constructor(
    private readonly rows: number,
    private readonly columns: number,
    private readonly bitsStored: number,
    random: SeededRandom,
  ) {
    this.base = this.paintBase();
    this.noiseState = random.int(1, 0x7fffffff);
  }

  /** Frame `index` of `count`: the inserts drift along the stack like anatomy along slices. */
  frame(index: number, count: number, bytesPerSample: 1 | 2): Buffer {
    const pixels = this.rows * this.columns;
    // Typed arrays use the host's byte order; DICOM little endian matches every platform we run on.
    const samples = bytesPerSample === 2 ? new Uint16Array(pixels) : new Uint8Array(pixels);
    const max = 2 ** this.bitsStored - 1;
    const phase = count > 1 ? index / (count - 1) : 0;
    const gain = 0.85 + 0.3 * Math.sin(phase * Math.PI);
    let s = (this.noiseState ^ Math.imul(index + 1, 0x9e3779b1)) | 1;
    for (let i = 0; i < pixels; i++) {
      // xorshift32: cheap noise, a few percent of full scale
      s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
      const noise = ((s >>> 0) / 4294967296 - 0.5) * 0.04;
      samples[i] = Math.round(Math.min(1, Math.max(0, (this.base[i] ?? 0) * gain + noise)) * max);
    }
    return Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  }

  private paintBase(): Float32Array {
    const { rows, columns } = this;
    const base = new Float32Array(rows * columns);
    const cx = columns / 2, cy = rows / 2;
    const rx = columns * 0.42, ry = rows * 0.36;
    const inserts = [
      { x: cx - rx * 0.45, y: cy, r: Math.min(rx, ry) * 0.18, v: 0.75 },
      { x: cx + rx * 0.45, y: cy, r: Math.min(rx, ry) * 0.18, v: 0.2 },
      { x: cx, y: cy - ry * 0.5, r: Math.min(rx, ry) * 0.12, v: 0.95 },
    ];
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const e = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2;
        let v = e <= 1 ? (e > 0.9 ? 0.8 : 0.45) : 0.02;
        for (const ins of inserts) {
          if ((x - ins.x) ** 2 + (y - ins.y) ** 2 <= ins.r ** 2) v = ins.v;
        }
        base[y * columns + x] = v;
      }
    }
    return base;
  }
}
