import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { pipeline } from 'node:stream/promises';
import { Readable, Transform } from 'node:stream';
// Types only: erased at compile time, so a relay on local disk never loads the SDK (see open()).
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { DeleteObjectsCommand, DeleteObjectsCommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { PieceDigest, UPLOAD_ID } from './local-disk-storage.js';
import { StorageUnavailableError, type ByteSink, type PieceRange, type RoomFor, type SpaceClaim, type TemporaryStorage, type WrittenPiece } from './storage.js';
import type { S3StorageLocation } from './storage-url.js';

type Sdk = typeof S3Sdk;

/** feedRange hands the sink the bytes through one buffer of this size. */
const FEED_BYTES = 1024 * 1024;
/**
 * S3's limit of keys per listing page and per DeleteObjects (Swift's s3api: max_bucket_listing and
 * max_multi_delete_objects, 1000 by default).
 */
const PAGE_KEYS = 1000;

/**
 * How long a request to the object store may hang before it fails, in milliseconds.
 *
 * - connectMs (5 s): establishing a connection, including the wait for a free socket in the pool
 *   (the SDK's connection timer starts when the request is made). Connecting takes milliseconds on a
 *   working network; an address whose packets are dropped would otherwise wait for the kernel's TCP
 *   timeout (about two minutes on Linux) while a chunk's claim is held and its client waits.
 * - responseMs (30 s): from sending a request until the response headers arrive, for every request
 *   but PutObject (whose body is the client's chunk, arriving at the client's pace: a slow network
 *   makes a long PUT, not a hung one). An object store answers a GET, HEAD, LIST or DELETE within a
 *   second or two; thirty leaves room for a store under load.
 * - idleMs (120 s): a socket on which no byte moved either way for this long fails its request,
 *   whatever the request: a PUT whose store stopped reading or never answers, a GET whose body
 *   stalled. It must exceed upload.chunkIdleTimeoutSeconds (60 s by default): a client that pauses
 *   mid-chunk is the relay's to judge, by its own rule; and a consumer of readRange that pauses
 *   (backpressure from a slow PACS) leaves the socket idle too, so it must not be short.
 * - probeMs (3 s): hasRoom's HeadBucket, all retries included: /readyz must answer quickly that the
 *   storage is unavailable.
 */
export interface S3Timeouts {
  connectMs: number;
  responseMs: number;
  idleMs: number;
  probeMs: number;
}

export const DEFAULT_S3_TIMEOUTS: S3Timeouts = { connectMs: 5_000, responseMs: 30_000, idleMs: 120_000, probeMs: 3_000 };

export interface S3StorageOptions extends S3StorageLocation {
  /**
   * The most bytes this relay may promise to uploads and have in flight to the store at once (see
   * the class comment). Undefined: no limit.
   */
  quotaBytes?: number;
  /** Default: the SDK's chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, instance roles...). */
  credentials?: S3ClientConfig['credentials'];
  /**
   * Sockets to the store at most (each of http and https). Default 128. A request beyond waits for
   * a free one, and that wait counts against connectMs (the SDK's connection timer starts with the
   * request): the pool must exceed the chunks written and ranges read at once (each holds a socket
   * for as long as it lasts), or a burst fails requests after connectMs.
   */
  maxSockets?: number;
  timeouts?: Partial<S3Timeouts>;
  /** Where the SDK's warnings go (the relay's log; pino's methods fit). Default: console. */
  logger?: SdkLogger;
  /** Keys per listing page and per DeleteObjects (at most 1000, S3's limit and the default; less only for tests). */
  pageKeys?: number;
}

type SdkLogger = NonNullable<S3ClientConfig['logger']>;

/**
 * Temporary storage in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, Swift's s3api), so
 * several relays can share one: one object per piece, never a multipart upload (S3's 5 MiB minimum
 * part, ordered parts and ListParts' consistency are what tusd's and @tus/s3-store's S3 bugs came
 * from; a piece is a chunk the client sent, written whole or not at all, which is one PutObject):
 *
 *   PREFIX uploads/<upload id>/<instance index>/<offset>-<length>
 *
 * The length is part of the key: a piece written again (the retry of a failed or unrecorded chunk:
 * the same offset and length) replaces what the earlier write left, while a piece of another length
 * at the same offset (a client that resumed with other chunk sizes) is another object. A read of a
 * recorded piece therefore never meets an object of another length, even on a store where a GET
 * after an overwrite may still answer the old object for a while; what such a stray write left is
 * removed with its upload (deleteUpload), or by the bucket's lifecycle rule.
 *
 * Durability: writePiece resolves once the PUT answered 200, which is the store's promise that
 * the object is stored (on AWS, across several availability zones; on Swift, on a quorum of
 * replicas, each fsynced). A PUT is given exactly the piece's length (Content-Length) and its last
 * byte only once the body ended at that length: a body that ends early, errors or runs long aborts
 * the request before the store has the bytes it was promised, so it stores nothing. Nothing is
 * deleted after a failed write either: a DELETE arriving after the client's retry had written the
 * same key would delete the retry's piece.
 *
 * Room: an object store has no free space to measure. `quotaBytes` (default: none) bounds what
 * this process promises and writes at once, as a disk's free space does: hasRoom(bytes) and
 * admit(bytes) fit while bytes + the bytes of admitted writes not yet ended stay within it (there
 * is no floor: the database is not in the bucket, so 'new-upload' and 'chunk' are judged alike). It
 * does not measure the bucket: several relays share it, and what they hold is not counted. A hard
 * limit on the bucket belongs to the provider (a bucket quota), whose refusals then fail PUTs.
 * hasRoom also asks the store whether the bucket answers (HeadBucket, within probeMs) and REJECTS
 * when it does not, so /readyz reports the storage unavailable rather than short of room; admit()
 * does not ask (a round trip per chunk): the PUT finds out.
 *
 * Orphans: pieces of an upload the relay forgot (a crash between a write and its record, a
 * deletion that failed, a listing that lagged) are found by listUploads and removed by
 * deleteUpload. Behind that, a lifecycle rule on the bucket expires objects under PREFIX uploads/
 * for whatever every relay forgot; the production docs must give it (issue 17), with an age above
 * the longest an upload may be held (its expiry, then delivery retries), or it would delete studies
 * still waiting for their PACS. Listing is for that cleanup only, never for deciding what an
 * instance's bytes are: the database's recorded pieces say that.
 */
export class S3TemporaryStorage implements TemporaryStorage {
  /** Bytes of admitted writes not yet ended. */
  private inFlight = 0;
  /** The HeadBucket in progress, shared by the hasRoom calls that arrive meanwhile. */
  private probing: Promise<void> | undefined;

  private constructor(
    private readonly sdk: Sdk,
    private readonly client: S3Client,
    private readonly location: S3StorageLocation,
    private readonly quotaBytes: number | undefined,
    private readonly timeouts: S3Timeouts,
    private readonly pageKeys: number,
  ) {}

  /**
   * Loads the AWS SDK (tens of MB of modules, only for relays that keep their uploads in S3) and
   * opens a client. Touches no network: hasRoom() is the first to ask the store.
   */
  static async open(options: S3StorageOptions): Promise<S3TemporaryStorage> {
    const { quotaBytes, credentials, maxSockets = 128, timeouts: overrides, logger, pageKeys = PAGE_KEYS, ...location } = options;
    if (quotaBytes !== undefined && !(Number.isSafeInteger(quotaBytes) && quotaBytes >= 0)) throw new Error('quotaBytes must be a whole number of bytes');
    if (!(Number.isSafeInteger(pageKeys) && pageKeys >= 1 && pageKeys <= PAGE_KEYS)) throw new Error(`pageKeys must be 1 to ${PAGE_KEYS}`);
    const timeouts = { ...DEFAULT_S3_TIMEOUTS, ...overrides };
    const sdk = await import('@aws-sdk/client-s3');
    // `timeout` closes a pooled socket idle this long (Node's agent applies it to free sockets, or
    // the server's Keep-Alive hint when shorter), before the store or a load balancer in front of
    // it closes it under us (Swift's proxy after 60 s, nginx after 75 s; others sooner): a PUT sent
    // on a socket the server just closed fails and, its body being a stream, is not retried.
    const agent = { keepAlive: true, maxSockets, timeout: 15_000 };
    const log = warningsOnly(logger ?? console);
    const client = new sdk.S3Client({
      logger: log,
      region: location.region,
      ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint }),
      forcePathStyle: location.forcePathStyle,
      ...(credentials === undefined ? {} : { credentials }),
      // No checksums the operation does not require: the relay checks SHA-256 itself, and a
      // flexible checksum on a streamed body would make the SDK send it aws-chunked, which not every
      // S3-compatible store takes (Swift 2.30's s3api does not).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // The body goes at once: waiting for "100 Continue" costs a round trip per piece, and with
      // the agents below the SDK would not wait anyway.
      expectContinueHeader: false,
      requestHandler: {
        connectionTimeout: timeouts.connectMs,
        requestTimeout: timeouts.responseMs,
        throwOnRequestTimeout: true,
        socketTimeout: timeouts.idleMs,
        logger: log,
        // Our own agents, bounded (maxSockets) and kept alive between pieces. (Had we left the
        // Expect header on, the SDK would have sent each PUT through an unbounded agent of its own.)
        httpAgent: new HttpAgent(agent),
        httpsAgent: new HttpsAgent(agent),
      },
    });
    // Every request's failure as the storage interface speaks it (asStorageError), around the
    // SDK's retries: one place, whatever the command.
    client.middlewareStack.add((next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        throw asStorageError(error);
      }
    }, { step: 'initialize', name: 'relaypacsStorageErrors' });
    return new S3TemporaryStorage(sdk, client, location, quotaBytes, timeouts, pageKeys);
  }

  /** Ends the client and its sockets. */
  async close(): Promise<void> {
    this.client.destroy();
  }

  async writePiece(uploadId: string, index: number, piece: PieceRange, source: Readable, alsoHash?: ByteSink): Promise<WrittenPiece> {
    const key = this.pieceKey(uploadId, index, piece);
    const digest = new PieceDigest(piece, alsoHash);
    let written: WrittenPiece | undefined;
    // The last byte is held back until the source ended (flush): only then can the body be known
    // to be neither short nor long, and without it the store never has Content-Length bytes, so it
    // cannot store the object, whatever happens to the request.
    let held: Buffer | undefined;
    const body = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        try {
          digest.take(chunk);
        } catch (error) {
          callback(error as Error);
          return;
        }
        if (chunk.length === 0) {
          callback();
        } else if (digest.received < piece.length) {
          callback(null, chunk);
        } else {
          held = Buffer.from(chunk.subarray(chunk.length - 1));
          callback(null, chunk.length > 1 ? chunk.subarray(0, chunk.length - 1) : undefined);
        }
      },
      flush(callback) {
        try {
          written = digest.finish();
        } catch (error) {
          callback(error as Error);
          return;
        }
        callback(null, held);
      },
    });
    // The SDK pipes the body into the request without watching it for errors: a failure on our
    // side (the source's error, a short or long body) aborts the request, which drops the
    // connection before the store received Content-Length bytes.
    const abort = new AbortController();
    let failure: unknown;
    pipeline(source, body).catch((error: unknown) => {
      failure ??= error;
      abort.abort(error);
    });
    const { PutObjectCommand } = this.sdk;
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: key, Body: body, ContentLength: piece.length }), {
        abortSignal: abort.signal,
        // No deadline on the whole request: the body comes at the client's pace (see S3Timeouts).
        requestTimeout: 0,
      });
    } catch (error) {
      // The store failed first: stop taking the source too (as the disk's write does).
      body.destroy();
      throw failure ?? error;
    }
    // The store answered after receiving Content-Length bytes, whose last one left only at flush.
    if (!written) throw new Error(`the object store answered the PUT of ${key} before the body ended`);
    return written;
  }

  readRange(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number): Readable {
    return Readable.from(this.readPieces(uploadId, index, pieces, start, end), { objectMode: false, highWaterMark: FEED_BYTES });
  }

  async feedRange(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number, sink: ByteSink): Promise<void> {
    // The network hands over buffers of its own; the sink sees them through one buffer, whole
    // (up to FEED_BYTES a call), as the disk feeds it.
    const reused = Buffer.allocUnsafe(FEED_BYTES);
    let filled = 0;
    for await (const bytes of this.readPieces(uploadId, index, pieces, start, end)) {
      let at = 0;
      while (at < bytes.length) {
        const copied = bytes.copy(reused, filled, at);
        filled += copied;
        at += copied;
        if (filled === reused.length) {
          sink.update(reused);
          filled = 0;
        }
      }
    }
    if (filled > 0) sink.update(reused.subarray(0, filled));
  }

  /**
   * The bytes [start, end) over `pieces`: one ranged GetObject at a time, its body passed on as the
   * network delivers it (nothing assembled). A missing object, or one whose length is not the
   * recorded one, fails the stream.
   */
  private async *readPieces(uploadId: string, index: number, pieces: readonly PieceRange[], start: number, end: number): AsyncGenerator<Buffer> {
    let position = start;
    for (const piece of [...pieces].sort((a, b) => a.offset - b.offset)) {
      const pieceEnd = piece.offset + piece.length;
      if (pieceEnd <= position || position >= end) continue;
      if (piece.offset > position) throw new Error(`instance ${index} of upload ${uploadId} holds no piece for bytes ${position}-${piece.offset}`);
      const stop = Math.min(pieceEnd, end);
      yield* this.readObject(this.pieceKey(uploadId, index, piece), piece, position - piece.offset, stop - piece.offset);
      position = stop;
    }
    if (position < end) throw new Error(`instance ${index} of upload ${uploadId} holds no piece for bytes ${position}-${end}`);
  }

  /** The piece's bytes [from, to), checking the object is as long as recorded. */
  private async *readObject(key: string, piece: PieceRange, from: number, to: number): AsyncGenerator<Buffer> {
    const { GetObjectCommand } = this.sdk;
    let answer;
    try {
      answer = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key, Range: `bytes=${from}-${to - 1}` }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === 'NoSuchKey') throw new Error(`the piece ${key} is missing from the object store`, { cause: error });
      // 416: the range starts past the object's end.
      if (name === 'InvalidRange') throw new Error(`the piece ${key} is shorter than recorded (${piece.length} bytes)`, { cause: error });
      throw error;
    }
    const body = answer.Body as Readable;
    try {
      // "bytes FIRST-LAST/TOTAL": TOTAL is the object's length. A store that ignored the range sends
      // the whole object (200, no Content-Range): its first `from` bytes are skipped.
      const total = answer.ContentRange === undefined ? answer.ContentLength : Number(/\/(\d+)$/.exec(answer.ContentRange)?.[1]);
      if (total !== piece.length) throw new Error(`the piece ${key} holds ${total ?? 'an unknown number of'} bytes, not the ${piece.length} recorded`);
      let skip = answer.ContentRange === undefined ? from : 0;
      let remaining = to - from;
      for await (const chunk of body as AsyncIterable<Buffer>) {
        let bytes = chunk;
        if (skip > 0) {
          const skipped = Math.min(skip, bytes.length);
          skip -= skipped;
          bytes = bytes.subarray(skipped);
        }
        if (bytes.length > remaining) bytes = bytes.subarray(0, remaining);
        if (bytes.length === 0) continue;
        remaining -= bytes.length;
        yield bytes;
        if (remaining === 0) break;
      }
      if (remaining > 0) throw new Error(`the piece ${key} ended ${remaining} bytes short of the range asked`);
    } finally {
      // Ends the response early when the reader stopped or failed (the socket is not reused then).
      if (!body.readableEnded) body.destroy();
    }
  }

  async hasRoom(bytes: number, _roomFor: RoomFor): Promise<boolean> {
    await this.probe();
    return this.fits(bytes);
  }

  async admit(bytes: number): Promise<SpaceClaim | undefined> {
    if (!this.fits(bytes)) return undefined;
    this.inFlight += bytes;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.inFlight -= bytes;
      },
    };
  }

  private fits(bytes: number): boolean {
    return this.quotaBytes === undefined || this.inFlight + bytes <= this.quotaBytes;
  }

  /** Resolves when the bucket answers a HeadBucket within probeMs; rejects saying why not. */
  private probe(): Promise<void> {
    this.probing ??= (async () => {
      const { HeadBucketCommand } = this.sdk;
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.location.bucket }), { abortSignal: AbortSignal.timeout(this.timeouts.probeMs) });
      } catch (error) {
        const why = (error as Error).name === 'TimeoutError' || (error as Error).name === 'AbortError' ? `no answer within ${this.timeouts.probeMs} ms` : explain(error);
        throw new Error(`the object store does not answer for bucket ${this.location.bucket}${this.location.endpoint ? ` at ${this.location.endpoint}` : ''}: ${why}`, { cause: error });
      }
    })().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  /**
   * Lists the upload's objects and deletes them, up to 1000 a request. Idempotent: deleting a key
   * that is gone succeeds. One pass, following the listing: on a store whose listings lag behind
   * its writes, an object a listing missed is left for the lifecycle rule (see the class comment).
   */
  async deleteUpload(uploadId: string): Promise<void> {
    const { ListObjectsV2Command, DeleteObjectsCommand } = this.sdk;
    const prefix = this.uploadPrefix(uploadId);
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, MaxKeys: this.pageKeys, ContinuationToken: token }));
      const keys = (page.Contents ?? []).flatMap((item) => (item.Key === undefined ? [] : [item.Key]));
      for (let at = 0; at < keys.length; at += this.pageKeys) {
        const answer: DeleteObjectsCommandOutput = await this.client.send(withContentMd5(new DeleteObjectsCommand({
          Bucket: this.location.bucket,
          Delete: { Objects: keys.slice(at, at + this.pageKeys).map((Key) => ({ Key })), Quiet: true },
        })));
        const failed = (answer.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0]!;
          throw new Error(`deleting upload ${uploadId} from the object store failed for ${failed.length} objects (${first.Key}: ${first.Code} ${first.Message ?? ''})`);
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async listUploads(): Promise<string[]> {
    const { ListObjectsV2Command } = this.sdk;
    const root = `${this.location.prefix}uploads/`;
    const ids: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: root, Delimiter: '/', MaxKeys: this.pageKeys, ContinuationToken: token }));
      for (const common of page.CommonPrefixes ?? []) {
        const id = common.Prefix?.slice(root.length, -1);
        // Anything else under the prefix is not ours to report (nor to delete).
        if (id !== undefined && UPLOAD_ID.test(id)) ids.push(id);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return ids;
  }

  /** PREFIX uploads/<upload id>/ */
  private uploadPrefix(uploadId: string): string {
    // Upload ids come from the relay, but they also reach us through URLs: never let one be a key prefix of another.
    if (!UPLOAD_ID.test(uploadId)) throw new Error('invalid upload id');
    return `${this.location.prefix}uploads/${uploadId}/`;
  }

  private pieceKey(uploadId: string, index: number, piece: PieceRange): string {
    if (!Number.isSafeInteger(index) || index < 0) throw new Error('invalid instance index');
    if (!Number.isSafeInteger(piece.offset) || piece.offset < 0) throw new Error('invalid piece offset');
    if (!Number.isSafeInteger(piece.length) || piece.length < 0) throw new Error('invalid piece length');
    return `${this.uploadPrefix(uploadId)}${index}/${piece.offset}-${piece.length}`;
  }
}

/**
 * Adds Content-MD5 to a DeleteObjects request. S3 requires an integrity header on it; the SDK now
 * sends a CRC32 (x-amz-checksum-crc32) instead of the MD5 it used to, and stores that predate
 * flexible checksums (Swift's s3api, older MinIO and Ceph) answer it "Missing required header for
 * this request: Content-MD5". The body is a small XML document, already serialized at this step.
 */
function withContentMd5(command: DeleteObjectsCommand): DeleteObjectsCommand {
  command.middlewareStack.add((next) => async (args) => {
    const request = args.request as { headers?: Record<string, string>; body?: unknown };
    if (request.headers && (typeof request.body === 'string' || request.body instanceof Uint8Array)) {
      request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
    }
    return next(args);
  }, { step: 'build', name: 'relaypacsContentMd5' });
  return command;
}

/**
 * The SDK's warnings (a socket pool exhausted, a clock skewed), without its per-request lines: an
 * info line for every command, an error line (holding the command's input) for every failed one,
 * and the warning printed for every failed request with a streamed body ("An error was encountered
 * in a non-retryable streaming request."). Every error reaches the caller, which logs what matters.
 */
function warningsOnly(logger: SdkLogger): SdkLogger {
  const ignore = () => undefined;
  return {
    debug: ignore,
    info: ignore,
    trace: ignore,
    warn: (...content: unknown[]) => {
      if (typeof content[0] === 'string' && content[0].includes('non-retryable streaming request')) return;
      logger.warn(...content);
    },
    error: ignore,
  };
}

function explain(error: unknown): string {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const name = (error as Error).name;
  const message = (error as Error).message;
  return [status && `HTTP ${status}`, name !== 'Error' && name, message && message !== name && message !== 'UnknownError' ? message : undefined].filter(Boolean).join(' ') || String(error);
}

/** Socket errors of a connection to the store that could not be made or was lost. */
const CONNECTION_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * A store that does not answer (unreachable, timing out, answering 5xx: down, overloaded, "SlowDown")
 * is StorageUnavailableError, the relay's 503; anything else (a refusal, a missing object) passes on.
 */
function asStorageError(error: unknown): unknown {
  const { name, code } = (error ?? {}) as { name?: string; code?: string };
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  const unavailable = (code !== undefined && CONNECTION_ERRNOS.has(code)) || name === 'TimeoutError' || (status !== undefined && status >= 500);
  return unavailable ? new StorageUnavailableError(`the object store does not answer (${explain(error)})`, { cause: error }) : error;
}
