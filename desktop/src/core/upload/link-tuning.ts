import { ChunkSizer } from './chunk-sizer.js';

export interface LinkTuningOptions {
  /** Chunks in flight on a sound link. */
  parallel: number;
  /** Most chunks in flight while connections keep failing (a lossy link). */
  maxParallel: number;
  /** How long a chunk's connection may go without a byte moving on a sound link (StallWatchdog). */
  stallMs: number;
  /** The same once connections have stalled: a stuck one is replaced sooner. */
  lossyStallMs: number;
  /** Successes in a row, after the last failure, that bring one connection less and, back at `parallel`, the sound-link stall time. */
  calmAfter?: number;
}

/**
 * What the engine has learnt about its link to the relay, kept across attempts and jobs: chunk
 * size, chunks in flight and how long a stuck connection is waited for. A sound link keeps the
 * settings it starts with. A lost connection (a stall, a reset, no connection at all) halves the
 * chunk size (ChunkSizer), so the next loss wastes less, doubles the connections up to
 * `maxParallel`, since on a lossy link each TCP connection spends most of its time waiting out
 * retransmission timeouts and several of them add up, and shortens the stall time. A long run of
 * successes gives connections back one by one.
 */
export class LinkTuning {
  readonly sizer: ChunkSizer;
  private inFlight: number;
  private lossy = false;
  private calm = 0;

  constructor(private readonly options: LinkTuningOptions, chunk: { minBytes: number; maxBytes: number; preferredBytes: number }) {
    this.sizer = new ChunkSizer(chunk.minBytes, chunk.maxBytes, chunk.preferredBytes);
    this.inFlight = Math.max(1, options.parallel);
  }

  /** Chunks to send at once now. */
  get parallel(): number {
    return this.inFlight;
  }

  /** How long a chunk's connection may go without a byte moving before it is given up. */
  get stallMs(): number {
    return this.lossy ? this.options.lossyStallMs : this.options.stallMs;
  }

  succeeded(): void {
    this.sizer.succeeded();
    if (!this.lossy || ++this.calm < (this.options.calmAfter ?? 32)) return;
    this.calm = 0;
    this.inFlight = Math.max(this.options.parallel, this.inFlight - 1);
    if (this.inFlight === Math.max(1, this.options.parallel)) this.lossy = false;
  }

  /** A chunk's connection was lost: no answer at all (stalled, reset, refused, never connected). */
  connectionLost(): void {
    this.sizer.failed();
    this.lossy = true;
    this.calm = 0;
    this.inFlight = Math.min(Math.max(this.options.maxParallel, this.options.parallel), this.inFlight * 2);
  }
}
