// The registry of chunks being written: overlapping chunks refused, a silent connection's writer
// dropped when its range is sent again (on this relay at once, on another through the shared
// claims), a live one kept.
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ProcessChunkClaims } from '../../src/store/sqlite/process-chunk-claims.js';
import { ChunkWriters, type ChunkWritersOptions } from '../../src/upload/chunk-writers.js';

/** A request body whose connection has read `bytesRead` bytes so far (what the registry watches). */
function body(socket = { bytesRead: 0 }): PassThrough & { socket: { bytesRead: number } } {
  return Object.assign(new PassThrough(), { socket });
}

describe('ChunkWriters', () => {
  const opened: ChunkWriters[] = [];
  const writersOf = (options: Partial<ChunkWritersOptions> & { staleWriterMs: number }, claims = new ProcessChunkClaims()) => {
    const writers = new ChunkWriters({ claims, holder: 'relay-a', ...options });
    opened.push(writers);
    return writers;
  };
  afterEach(() => {
    for (const writers of opened.splice(0)) writers.close();
  });

  it('refuses a range overlapping one being written, takes adjacent ranges and other instances, and frees on release', async () => {
    const writers = writersOf({ staleWriterMs: 60_000 });
    const first = await writers.reserve('u', 0, [0, 100], body());
    expect(first).toBeDefined();
    expect(await writers.reserve('u', 0, [50, 150], body())).toBeUndefined();
    expect(await writers.reserve('u', 0, [100, 200], body())).toBeDefined();
    expect(await writers.reserve('u', 1, [0, 100], body())).toBeDefined();
    await writers.release(first!);
    expect(await writers.reserve('u', 0, [0, 100], body())).toBeDefined();
  });

  it('refuses the second of two overlapping reservations made at once', async () => {
    const writers = writersOf({ staleWriterMs: 60_000 });
    const both = await Promise.all([writers.reserve('u', 0, [0, 100], body()), writers.reserve('u', 0, [0, 100], body())]);
    expect(both.filter((w) => w !== undefined)).toHaveLength(1);
  });

  it('drops a writer whose connection moved no byte for staleWriterMs when its range is asked for again', async () => {
    const dropped: unknown[] = [];
    const writers = writersOf({ staleWriterMs: 50, onDropped: (range) => dropped.push(range) });
    const silent = body();
    const errors: Error[] = [];
    silent.on('error', (error) => errors.push(error));
    await writers.reserve('u', 0, [0, 100], silent);
    await sleep(80);
    // The retry is refused this time (the range is still taken), but the dead writer is gone.
    expect(await writers.reserve('u', 0, [0, 100], body())).toBeUndefined();
    expect(silent.destroyed).toBe(true);
    await new Promise((resolve) => setImmediate(resolve)); // 'error' is emitted on the next tick
    expect(errors.map((e) => e.message)).toEqual(['chunk connection superseded']);
    expect(dropped).toEqual([[0, 100]]);
  });

  it('keeps a writer whose connection is still receiving', async () => {
    const writers = writersOf({ staleWriterMs: 50 });
    const socket = { bytesRead: 0 };
    const live = body(socket);
    await writers.reserve('u', 0, [0, 100], live);
    await sleep(80);
    socket.bytesRead = 4096; // bytes arrived meanwhile
    expect(await writers.reserve('u', 0, [0, 100], body())).toBeUndefined();
    expect(live.destroyed).toBe(false);
  });

  it('across relays sharing the claims: refuses a range another relay is writing, and drops that relay\'s silent writer for the retry', async () => {
    const claims = new ProcessChunkClaims();
    const droppedOnA: unknown[] = [];
    const relayA = writersOf({ staleWriterMs: 300, holder: 'relay-a', onDropped: (range) => droppedOnA.push(range) }, claims);
    const relayB = writersOf({ staleWriterMs: 300, holder: 'relay-b' }, claims);
    const liveSocket = { bytesRead: 0 };
    const live = body(liveSocket);
    const silent = body();
    silent.on('error', () => {});
    await relayA.reserve('u', 0, [0, 100], live);
    await relayA.reserve('u', 0, [100, 200], silent);
    // Both of relay A's connections stay, while they are young or move.
    expect(await relayB.reserve('u', 0, [0, 200], body())).toBeUndefined();
    for (let beat = 0; beat < 4; beat++) {
      liveSocket.bytesRead += 1024;
      await sleep(200);
    }
    // The silent one is stale now: relay B's retry is refused once and removes its claim; relay A's
    // watchdog (every 500 ms) finds the claim gone and drops the writer; then the retry goes through.
    expect(await relayB.reserve('u', 0, [100, 200], body())).toBeUndefined();
    for (let wait = 0; wait < 20 && !silent.destroyed; wait++) await sleep(100);
    expect(silent.destroyed).toBe(true);
    expect(live.destroyed).toBe(false);
    expect(droppedOnA).toEqual([[100, 200]]);
    expect(await relayB.reserve('u', 0, [100, 200], body())).toBeDefined();
    expect(await relayB.reserve('u', 0, [0, 100], body())).toBeUndefined();
  });

  it('keeps writing when the store lost the claims (a database restarted), and puts them back', async () => {
    const claims = new ProcessChunkClaims();
    const relayA = writersOf({ staleWriterMs: 60_000, holder: 'relay-a' }, claims);
    const relayB = writersOf({ staleWriterMs: 60_000, holder: 'relay-b' }, claims);
    const socket = { bytesRead: 0 };
    const live = body(socket);
    const writer = await relayA.reserve('u', 0, [0, 100], live);
    await sleep(20);
    expect(await claims.prune(10)).toBe(1); // the claims table emptied
    expect(await relayB.reserve('u', 0, [0, 100], body())).toBeDefined(); // nothing there for now
    socket.bytesRead = 10;
    await sleep(700); // relay A's watchdog: the claim is missing, not superseded
    expect(live.destroyed).toBe(false);
    expect(await claims.touch([], [writer!.claim!])).toEqual({ superseded: new Set(), missing: new Set() }); // restored
  });
});
