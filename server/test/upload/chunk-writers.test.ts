// The registry of chunks being written: overlapping chunks refused, a silent connection's writer
// dropped when its range is sent again, a live one kept.
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkWriters } from '../../src/upload/chunk-writers.js';

/** A request body whose connection has read `bytesRead` bytes so far (what the registry watches). */
function body(socket = { bytesRead: 0 }): PassThrough & { socket: { bytesRead: number } } {
  return Object.assign(new PassThrough(), { socket });
}

describe('ChunkWriters', () => {
  let writers: ChunkWriters;
  afterEach(() => writers.close());

  it('refuses a range overlapping one being written, takes adjacent ranges and other instances, and frees on release', () => {
    writers = new ChunkWriters({ staleWriterMs: 60_000 });
    const first = writers.reserve('u/0', [0, 100], body());
    expect(first).toBeDefined();
    expect(writers.reserve('u/0', [50, 150], body())).toBeUndefined();
    expect(writers.reserve('u/0', [100, 200], body())).toBeDefined();
    expect(writers.reserve('u/1', [0, 100], body())).toBeDefined();
    writers.release('u/0', first!);
    expect(writers.reserve('u/0', [0, 100], body())).toBeDefined();
  });

  it('drops a writer whose connection moved no byte for staleWriterMs when its range is asked for again', async () => {
    const dropped: unknown[] = [];
    writers = new ChunkWriters({ staleWriterMs: 50, onDropped: (range) => dropped.push(range) });
    const silent = body();
    const errors: Error[] = [];
    silent.on('error', (error) => errors.push(error));
    writers.reserve('u/0', [0, 100], silent);
    await new Promise((resolve) => setTimeout(resolve, 80));
    // The retry is refused this time (the range is still taken), but the dead writer is gone.
    expect(writers.reserve('u/0', [0, 100], body())).toBeUndefined();
    expect(silent.destroyed).toBe(true);
    await new Promise((resolve) => setImmediate(resolve)); // 'error' is emitted on the next tick
    expect(errors.map((e) => e.message)).toEqual(['chunk connection superseded']);
    expect(dropped).toEqual([[0, 100]]);
  });

  it('keeps a writer whose connection is still receiving', async () => {
    writers = new ChunkWriters({ staleWriterMs: 50 });
    const socket = { bytesRead: 0 };
    const live = body(socket);
    writers.reserve('u/0', [0, 100], live);
    await new Promise((resolve) => setTimeout(resolve, 80));
    socket.bytesRead = 4096; // bytes arrived meanwhile
    expect(writers.reserve('u/0', [0, 100], body())).toBeUndefined();
    expect(live.destroyed).toBe(false);
  });
});
