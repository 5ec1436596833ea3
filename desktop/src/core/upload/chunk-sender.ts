// Sends one upload's missing byte ranges through a pool of parallel chunk connections, within the link's tuning, the cap and the window.
import type { InitUploadResponse } from '../../../../server/src/protocol/upload-protocol.js';
import { sleep } from './backoff.js';
import type { ConnectivityMonitor } from './connectivity-monitor.js';
import { readRange as readFileRange, type ReadRange } from './file-range-reader.js';
import { JobStopped, SendingHeld } from './job-errors.js';
import { LinkTuning } from './link-tuning.js';
import { RangeQueue, type ByteRange } from './range-queue.js';
import { DEFAULT_CHUNK_STALL_MS, RelayRequestError, type RelayClient } from './relay-client.js';
import type { SendingPolicy } from './sending-policy.js';
import type { StatFirstGate } from './stat-first-gate.js';
import type { CatalogFile, UploadJob } from './upload-jobs-repository.js';

const DEFAULT_MAX_BYTES_IN_FLIGHT = 32 * 1024 * 1024;

export interface ChunkSenderOptions {
  /** Where chunks go: the relay (RelayClient.putChunk). */
  client: Pick<RelayClient, 'putChunk'>;
  /** The job as it is now, read before every chunk (paused, cancelled or made STAT meanwhile). */
  jobs: { find(id: number): Pick<UploadJob, 'state' | 'serviceLevel'> | undefined };
  /** The bandwidth cap, the routine windows and the chunk ceiling they imply. */
  policy: Pick<SendingPolicy, 'holdReason' | 'pace' | 'chunkCeiling'>;
  /** Routine chunks wait while a STAT study sends. */
  statFirst: Pick<StatFirstGate, 'closed' | 'clear'>;
  /** Asked whether the relay answers when chunks keep being lost; without it, an outage is assumed. */
  connectivity?: Pick<ConnectivityMonitor, 'check'>;
  /** How a chunk's bytes are read; default from the file (file-range-reader). */
  readRange?: ReadRange;
  /** As UploadEngineOptions: parallelChunks, maxParallelChunks, maxBytesInFlight, chunkStallMs, lossyChunkStallMs. */
  parallelChunks?: number;
  maxParallelChunks?: number;
  maxBytesInFlight?: number;
  chunkStallMs?: number;
  lossyChunkStallMs?: number;
}

/** One attempt's sending: an upload, its files (by instance index) and the ranges the relay is missing. */
export interface ChunkUpload {
  job: Pick<UploadJob, 'id' | 'serviceLevel'>;
  init: Pick<InitUploadResponse, 'uploadId' | 'uploadToken' | 'chunk'>;
  files: Pick<CatalogFile, 'path'>[];
  missing: ByteRange[];
  /** Bytes of the study the relay held before this attempt. */
  alreadyHeld: number;
  /** A chunk was stored: the study's bytes the relay now holds. */
  onStored?: (bytesSent: number) => void;
}

/**
 * Sends the missing ranges, several chunks at a time, each cut to the current chunk size
 * (LinkTuning). Each chunk is watched by progress (RelayClient.putChunk): one that keeps moving
 * is waited for however slow, one whose connection stopped moving is given up. A chunk whose
 * connection was lost (stalled, reset, never connected) goes back in the queue and is sent again
 * on a new connection while the others go on, and the link is tuned for loss (smaller chunks,
 * more connections). The attempt fails only when chunks keep being lost with none stored in
 * between and the relay does not answer its probe either (an outage: the engine waits for it). A range
 * the relay is still receiving from a connection given up (409 UPLOAD_CHUNK_IN_PROGRESS) is tried
 * again after the relay's Retry-After (it drops such a connection once it sees the range asked
 * for again), waiting longer only when that keeps happening. What sending teaches about the link
 * is kept across attempts and uploads.
 */
export class ChunkSender {
  /** What sending has taught about the link to the relay (chunk size, connections, stall time). */
  private link: { key: string; tuning: LinkTuning } | undefined;
  private readonly readRange: ReadRange;

  constructor(private readonly options: ChunkSenderOptions) {
    this.readRange = options.readRange ?? readFileRange;
  }

  /**
   * Sends every range, or throws: SendingHeld (the window closed), JobStopped (paused or cancelled),
   * the relay's refusal, the last lost connection's error (an outage), or a file's JobFailed.
   */
  async send({ job, init, files, missing, alreadyHeld, onStored }: ChunkUpload): Promise<void> {
    const { client, jobs, policy, statFirst } = this.options;
    const link = this.linkFor(init.chunk);
    const queue = new RangeQueue(missing);
    let sent = alreadyHeld;
    let failure: unknown;
    let lostInARow = 0;
    let probe: Promise<boolean> | undefined;
    const inProgressAnswers = new Map<string, number>();
    /** Whether the relay answers its liveness probe (one probe at a time); without a monitor, no. */
    const relayAnswers = () => {
      const connectivity = this.options.connectivity;
      if (!connectivity) return Promise.resolve(false);
      probe ??= connectivity.check().finally(() => {
        probe = undefined;
      });
      return probe;
    };
    const workers: Promise<void>[] = [];
    let active = 0;
    const worker = async () => {
      active++;
      try {
        await sendChunks();
      } catch (error) {
        failure ??= error;
      } finally {
        active--;
      }
    };
    const sendChunks = async () => {
      while (failure === undefined) {
        // Read for every chunk: the job may have been paused, cancelled or made STAT meanwhile.
        const current = jobs.find(job.id);
        const serviceLevel = current?.serviceLevel ?? job.serviceLevel;
        // A STAT study is sending: a routine one starts no chunk until it is done, then goes on.
        if (serviceLevel === 'ROUTINE' && statFirst.closed) {
          await statFirst.clear();
          continue;
        }
        // The routine window closed: chunks in flight finish, no new one starts, the job is held.
        const held = policy.holdReason(serviceLevel);
        if (held) {
          failure ??= new SendingHeld(held);
          break;
        }
        // Paused or cancelled from the queue meanwhile: the same, and the engine's run loop returns it so.
        if (current?.state === 'paused' || current?.state === 'cancelled') {
          failure ??= new JobStopped();
          break;
        }
        const memoryCeiling = Math.max(init.chunk.minBytes, Math.floor((this.options.maxBytesInFlight ?? DEFAULT_MAX_BYTES_IN_FLIGHT) / link.parallel));
        const range = queue.take(Math.min(link.sizer.current, memoryCeiling, policy.chunkCeiling(init.chunk.minBytes)), performance.now());
        if (!range) {
          // Nothing ready: done, or only ranges waiting for the relay to let go of them.
          const readyAt = queue.nextReadyAt(performance.now());
          if (readyAt === undefined) break;
          await sleep(Math.max(0, readyAt - performance.now()));
          continue;
        }
        const length = range.end - range.start;
        const file = files[range.index]!;
        // The bandwidth cap, shared by every worker; read from the settings for each chunk.
        await policy.pace(length);
        const bytes = await this.readRange(file.path, range.start, length);
        try {
          await client.putChunk(init.uploadId, init.uploadToken, range.index, range.start, bytes, { stallMs: link.stallMs });
          link.succeeded();
          lostInARow = 0;
          sent += length;
          onStored?.(sent);
        } catch (error) {
          if (!(error instanceof RelayRequestError)) throw error;
          if (error.code === 'UPLOAD_OFFSET_MISMATCH') continue; // already held; status will tell
          if (error.status === 413) {
            link.sizer.failed();
            queue.retryFirst(range);
            continue;
          }
          const key = `${range.index}:${range.start}`;
          if (error.code === 'UPLOAD_CHUNK_IN_PROGRESS') {
            // The relay drops a connection given up once it sees the range again (2 s of silence):
            // retry after Retry-After, waiting longer only when that keeps not being the case.
            const answers = (inProgressAnswers.get(key) ?? 0) + 1;
            inProgressAnswers.set(key, answers);
            queue.giveBack(range, performance.now() + Math.min(8, 2 ** Math.max(0, answers - 3)) * (error.retryAfterSeconds ?? 1) * 1000);
            continue;
          }
          if (error.status !== undefined) throw error;
          // No answer: the connection was lost. Send it again, on a new connection, with more beside it.
          inProgressAnswers.delete(key);
          link.connectionLost();
          queue.giveBack(range);
          if (++lostInARow >= Math.max(4, link.parallel)) {
            if (!(await relayAnswers())) throw error;
            lostInARow = 0;
          }
          // Workers that found nothing left to take have ended; the link may also take more now.
          while (active < link.parallel && queue.size > 0) workers.push(worker());
        }
      }
    };
    for (let i = 0; i < link.parallel; i++) workers.push(worker());
    // Workers are added while sending when the link turns out lossy.
    for (let i = 0; i < workers.length; i++) await workers[i];
    if (failure !== undefined) throw failure;
  }

  /** The link's tuning for the relay's chunk limits (a new one when they change). */
  private linkFor(chunk: InitUploadResponse['chunk']): LinkTuning {
    const key = `${chunk.minBytes}/${chunk.maxBytes}/${chunk.preferredBytes}`;
    if (this.link?.key !== key) {
      const stallMs = this.options.chunkStallMs ?? DEFAULT_CHUNK_STALL_MS;
      this.link = {
        key,
        tuning: new LinkTuning({
          parallel: this.options.parallelChunks ?? 4, maxParallel: this.options.maxParallelChunks ?? 16,
          stallMs, lossyStallMs: Math.min(stallMs, this.options.lossyChunkStallMs ?? 5_000),
        }, chunk),
      };
    }
    return this.link.tuning;
  }
}
