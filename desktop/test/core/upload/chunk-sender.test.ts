// The chunk sender against a fake relay: every missing byte stored once, lost connections sent again, a refusal,
// an outage, a pause and a closed window each stop it the way the engine's run loop expects.
import { describe, expect, it } from 'vitest';
import type { ChunkResponse } from '../../../../server/src/protocol/upload-protocol.js';
import { ChunkSender, type ChunkSenderOptions, type ChunkUpload } from '../../../src/core/upload/chunk-sender.js';
import { JobStopped, SendingHeld } from '../../../src/core/upload/job-errors.js';
import { RelayRequestError } from '../../../src/core/upload/relay-client.js';
import { SendingPolicy } from '../../../src/core/upload/sending-policy.js';
import { StatFirstGate } from '../../../src/core/upload/stat-first-gate.js';
import type { JobState } from '../../../src/core/upload/upload-jobs-repository.js';

const KiB = 1024;
const files = [Buffer.alloc(10 * KiB, 1), Buffer.alloc(5 * KiB + 7, 2)];
const init = { uploadId: 'u1', uploadToken: 't1', chunk: { minBytes: KiB, maxBytes: 4 * KiB, preferredBytes: 2 * KiB } };
const lost = () => new RelayRequestError('connection reset', undefined, undefined, undefined, true);

/** A relay that stores chunks in memory, failing a put when `fail` says so. */
function fakeRelay(fail: (call: number, instance: number, offset: number, length: number) => Error | undefined = () => undefined) {
  const stored = files.map((f) => Buffer.alloc(f.length));
  const writes = files.map((f) => new Array<number>(f.length).fill(0));
  let calls = 0;
  const client: ChunkSenderOptions['client'] = {
    putChunk: async (_uploadId, _token, instance, offset, bytes) => {
      await Promise.resolve();
      const error = fail(++calls, instance, offset, bytes.length);
      if (error) throw error;
      bytes.copy(stored[instance]!, offset);
      for (let i = offset; i < offset + bytes.length; i++) writes[instance]![i]!++;
      return { instance, offset, length: bytes.length, duplicate: false, receivedBytes: 0 } as unknown as ChunkResponse;
    },
  };
  return { client, stored, writes, calls: () => calls };
}

function sender(client: ChunkSenderOptions['client'], job: { state: JobState; serviceLevel: 'STAT' | 'ROUTINE' }, extra: Partial<ChunkSenderOptions> = {}) {
  return new ChunkSender({
    client, jobs: { find: () => job }, policy: new SendingPolicy(), statFirst: new StatFirstGate(),
    readRange: async (path, start, length) => files[Number(path)]!.subarray(start, start + length),
    parallelChunks: 2, ...extra,
  });
}

function upload(onStored?: (sent: number) => void): ChunkUpload {
  return {
    job: { id: 1, serviceLevel: 'ROUTINE' }, init, files: [{ path: '0' }, { path: '1' }],
    missing: files.map((f, index) => ({ index, start: 0, end: f.length })), alreadyHeld: 0, ...(onStored ? { onStored } : {}),
  };
}

describe('chunk sender', () => {
  it('stores every missing byte once, in chunks within the relay limits, reporting the bytes held as it goes', async () => {
    const relay = fakeRelay();
    const reported: number[] = [];
    await sender(relay.client, { state: 'uploading', serviceLevel: 'ROUTINE' }).send(upload((sent) => reported.push(sent)));
    expect(relay.stored).toEqual(files);
    expect(relay.writes.flat().every((n) => n === 1)).toBe(true);
    expect(reported.at(-1)).toBe(files[0]!.length + files[1]!.length);
    expect(reported).toEqual([...reported].sort((a, b) => a - b));
    expect(relay.calls()).toBeGreaterThanOrEqual(Math.ceil((files[0]!.length + files[1]!.length) / (4 * KiB)));
  });

  it('sends a chunk whose connection was lost again, and a refused-as-too-large one again smaller', async () => {
    const relay = fakeRelay((call, _instance, _offset, length) => call === 2 ? lost() : call === 4 && length > KiB
      ? new RelayRequestError('too large', 413, undefined, undefined, false) : undefined);
    await sender(relay.client, { state: 'uploading', serviceLevel: 'ROUTINE' }, { connectivity: { check: async () => true } }).send(upload());
    expect(relay.stored).toEqual(files);
  });

  it('throws a refusal as the relay gave it', async () => {
    const refusal = new RelayRequestError('forbidden', 403, undefined, undefined, false);
    const relay = fakeRelay(() => refusal);
    await expect(sender(relay.client, { state: 'uploading', serviceLevel: 'ROUTINE' }).send(upload())).rejects.toBe(refusal);
  });

  it('gives up when connections keep being lost and the relay does not answer its probe', async () => {
    const relay = fakeRelay(() => lost());
    let probes = 0;
    const check = async () => {
      probes++;
      return false;
    };
    await expect(sender(relay.client, { state: 'uploading', serviceLevel: 'ROUTINE' }, { connectivity: { check } }).send(upload()))
      .rejects.toBeInstanceOf(RelayRequestError);
    expect(probes).toBeGreaterThan(0);
  });

  it('stops a paused job with JobStopped and a job outside its window with SendingHeld, sending nothing', async () => {
    const relay = fakeRelay();
    await expect(sender(relay.client, { state: 'paused', serviceLevel: 'ROUTINE' }).send(upload())).rejects.toBeInstanceOf(JobStopped);
    const closed: ChunkSenderOptions['policy'] = {
      holdReason: () => ({ code: 'WAITING_FOR_WINDOW', message: 'routine studies are sent at night' }), pace: async () => {}, chunkCeiling: () => Infinity,
    };
    await expect(sender(relay.client, { state: 'uploading', serviceLevel: 'ROUTINE' }, { policy: closed }).send(upload()))
      .rejects.toBeInstanceOf(SendingHeld);
    expect(relay.calls()).toBe(0);
  });
});
