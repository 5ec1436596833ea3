import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AccessPrincipal, TokenService } from '../auth/token-service.js';
import type { RelayConfig } from '../config/relay-config.js';
import { RelayError } from '../http/relay-error.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { RelayEventBus } from '../ops/relay-events.js';
import type { ChunkQuery, ChunkResponse, InitUploadRequest, InitUploadResponse, UploadStatus } from '../protocol/upload-protocol.js';
import { isDiskFull } from '../storage/disk-full.js';
import { OverlongWriteError, ShortWriteError, type TemporaryStorage } from '../storage/storage.js';
import type { DeliveryItemStatus } from '../store/deliveries-store.js';
import type { RelayStore } from '../store/relay-store.js';
import type { InstanceRecord, UploadRecord, UploadsStore } from '../store/uploads-store.js';
import { ByteRangeSet } from './byte-ranges.js';
import { ChunkWriters } from './chunk-writers.js';
import { sha256FromContentDigest } from './content-digest.js';
import { HashCarrier } from './hash-carrier.js';
import { InstanceVerification, type InstanceVerifiedHook, type UploadLog } from './instance-verification.js';
import type { ResumableSha256 } from './resumable-sha256.js';
import { Semaphore } from './semaphore.js';
import { UploadExpiry } from './upload-expiry.js';
import { UploadSpace } from './upload-space.js';
import { UploadStatusView } from './upload-status-view.js';

export interface UploadServiceOptions {
  store: RelayStore;
  /** This relay among those sharing the database (config instanceName): the sweep's lease names it. */
  instanceName: string;
  storage: TemporaryStorage;
  tokens: TokenService;
  metrics: RelayMetrics;
  limits: RelayConfig['upload'];
  uploadTokenSeconds: number;
  now: () => Date;
  /** Lifecycle events for GET /events. */
  events: RelayEventBus;
  /** Called for each instance as soon as it is verified, in the verdict's commit: forwarding starts while the rest still arrives. */
  onInstanceVerified?: InstanceVerifiedHook;
  /** Called once per upload when it is complete and verified: the relay owns its delivery from here. */
  onStudyAccepted?: (uploadId: string) => void;
  /** Delivery state per destination and instance, for status. */
  deliveryItems?: (uploadId: string) => Promise<readonly DeliveryItemStatus[]>;
  log?: UploadLog;
  /**
   * A chunk being written whose connection has moved no byte for this long is dropped when another
   * connection asks for its range (its client gave it up and sends the range again). Default 2 s.
   */
  staleWriterMs?: number;
}

export interface ChunkHeaders {
  contentLength: number | undefined;
  contentDigest: string | string[] | undefined;
}

/**
 * The upload protocol's rules (docs/protocol/upload.md): manifests and admission (init), resumable
 * chunk reception, completion and cancellation. Its parts each do one job: the chunks being written
 * (ChunkWriters), room in temporary storage (UploadSpace), verification (InstanceVerification), the
 * status answer (UploadStatusView) and expiry (UploadExpiry). Storage is reached only through
 * TemporaryStorage. Every chunk is durable before it is acknowledged (storage fsync, then its
 * commit, which the HTTP layer syncs before answering), so a relay killed at any moment, or a power
 * cut, loses nothing it confirmed.
 */
export class UploadService {
  private readonly repo: UploadsStore;
  private readonly writers: ChunkWriters;
  private readonly verification: InstanceVerification;
  private readonly space: UploadSpace;
  private readonly view: UploadStatusView;
  private readonly expiry: UploadExpiry;
  /** New uploads are admitted one at a time (see init). */
  private readonly admissions = new Semaphore(1);
  /** Each instance's SHA-256, carried from chunk to chunk so verification need not read it again. */
  private readonly hashes: HashCarrier;

  constructor(private readonly options: UploadServiceOptions) {
    const repo = options.store.uploads;
    this.repo = repo;
    const log = () => this.options.log;
    this.writers = new ChunkWriters({
      claims: options.store.chunkClaims,
      holder: options.instanceName,
      ...(options.staleWriterMs === undefined ? {} : { staleWriterMs: options.staleWriterMs }),
      onDropped: (range) => this.options.log?.info({ instance: range }, 'chunk connection silent while its range is sent again: dropped'),
    });
    this.verification = new InstanceVerification({
      store: options.store, storage: options.storage, allowedSopClasses: options.limits.allowedSopClasses,
      events: options.events, metrics: options.metrics, log,
      ...(options.onInstanceVerified ? { onInstanceVerified: options.onInstanceVerified } : {}),
    });
    this.space = new UploadSpace({ storage: options.storage, uploads: repo, deliveries: options.store.deliveries, limits: options.limits, now: options.now, onRefusedChunk: () => this.reject('storage_full'), log });
    this.view = new UploadStatusView(repo, options.deliveryItems);
    this.expiry = new UploadExpiry({ uploads: repo, jobLeases: options.store.jobLeases, chunkClaims: options.store.chunkClaims, instanceName: options.instanceName, storage: options.storage, metrics: options.metrics, now: options.now, intervalSeconds: options.limits.cleanupIntervalSeconds, log });
    this.hashes = new HashCarrier(repo);
  }

  /** The server's logger, once the app exists (logs carry upload ids and instance indexes, never PHI). */
  setLogger(log: UploadLog): void {
    this.options.log = log;
  }

  async init(principal: AccessPrincipal, request: InitUploadRequest): Promise<InitUploadResponse> {
    const limits = this.options.limits;
    const { instances, study } = request;
    if (instances.length > limits.maxInstancesPerUpload) {
      throw new RelayError(413, 'UPLOAD_TOO_LARGE', `an upload holds at most ${limits.maxInstancesPerUpload} instances`, { limit: 'maxInstancesPerUpload', maxInstancesPerUpload: limits.maxInstancesPerUpload });
    }
    const seen = new Set<string>();
    let totalBytes = 0;
    for (const [index, instance] of instances.entries()) {
      if (seen.has(instance.sopInstanceUid)) throw new RelayError(400, 'BAD_REQUEST', `instance ${index} repeats a SOP Instance UID already in the manifest`);
      seen.add(instance.sopInstanceUid);
      if (instance.size > limits.maxInstanceBytes) {
        throw new RelayError(413, 'UPLOAD_TOO_LARGE', `instance ${index} is larger than the ${limits.maxInstanceBytes}-byte limit`, { limit: 'maxInstanceBytes', maxInstanceBytes: limits.maxInstanceBytes, index });
      }
      totalBytes += instance.size;
    }
    if (totalBytes > limits.maxStudyBytes) {
      throw new RelayError(413, 'UPLOAD_TOO_LARGE', `the study is larger than the ${limits.maxStudyBytes}-byte limit`, { limit: 'maxStudyBytes', maxStudyBytes: limits.maxStudyBytes });
    }
    const manifestHash = createHash('sha256')
      .update(JSON.stringify(instances.map((i) => [i.sopInstanceUid, i.sopClassUid, i.size, i.sha256])))
      .digest('hex');

    let upload = await this.repo.findResumable(principal.userId, study.studyInstanceUid, manifestHash);
    let resumed = upload !== undefined;
    if (!upload) {
      // Admissions are decided one at a time, from the measurement of the room to the insert: two
      // inits arriving together cannot both be admitted into the same free bytes (the second counts
      // the first among the uploads still to receive: requireRoom).
      [upload, resumed] = await this.admissions.run(async (): Promise<[UploadRecord, boolean]> => {
        // A copy of this init that arrived meanwhile (a client sending it again over a lossy link)
        // may have created the upload while this one waited: one upload, both answered with it.
        const copy = await this.repo.findResumable(principal.userId, study.studyInstanceUid, manifestHash);
        if (copy) return [copy, true];
        if (await this.repo.countActive(principal.userId) >= limits.maxActiveUploadsPerUser) {
          throw new RelayError(429, 'UPLOAD_LIMIT_REACHED', `at most ${limits.maxActiveUploadsPerUser} uploads may be in progress per account`, { maxActiveUploadsPerUser: limits.maxActiveUploadsPerUser });
        }
        const delivered = await this.repo.alreadyDelivered(instances);
        await this.space.requireRoom(instances.reduce((sum, i) => (delivered.has(i.sopInstanceUid) ? sum : sum + i.size), 0));
        const id = randomBytes(16).toString('base64url');
        const now = this.options.now();
        await this.repo.insert({
          id, userId: principal.userId, studyInstanceUid: study.studyInstanceUid, modality: study.modality, serviceLevel: study.serviceLevel,
          clinicalHistory: study.clinicalHistory, sourceWorkstation: study.sourceWorkstation, facility: study.facility, manifestHash,
          chunkBytes: limits.preferredChunkBytes, totalBytes, expiresAt: this.expiryFrom(now),
          instances: instances.map((i) => ({ ...i, state: delivered.has(i.sopInstanceUid) ? 'already-delivered' : 'receiving' })),
        }, now.toISOString());
        this.options.metrics.uploadsStarted.inc();
        this.options.metrics.activeUploads.inc();
        this.options.log?.info({ uploadId: id, instances: instances.length, totalBytes, serviceLevel: study.serviceLevel }, 'upload started');
        return [(await this.repo.find(id))!, false];
      });
    }
    if (resumed) {
      // The same study sent again as STAT, or with the clinical history it lacked (the workstation's
      // job was made STAT): the upload takes them over, so what is still to deliver goes before
      // routine work. Nothing goes back to routine, and a history given first is kept.
      const stat = study.serviceLevel === 'STAT' && upload.serviceLevel !== 'STAT';
      const clinicalHistory = study.clinicalHistory && !upload.clinicalHistory ? study.clinicalHistory : undefined;
      if (stat || clinicalHistory) {
        await this.repo.upgrade(upload.id, { stat, clinicalHistory }, this.options.now().toISOString());
        upload = (await this.repo.find(upload.id))!;
      }
      this.options.log?.info({ uploadId: upload.id, ...(stat ? { serviceLevel: 'STAT' } : {}) }, 'upload resumed');
    }
    const tokenExpiresAt = new Date(this.options.now().getTime() + this.options.uploadTokenSeconds * 1000);
    const status = await this.view.of(upload);
    return {
      uploadId: upload.id,
      uploadToken: await this.options.tokens.issueUploadToken({ userId: principal.userId, uploadId: upload.id, sessionId: principal.sessionId }, tokenExpiresAt),
      uploadTokenExpiresAt: tokenExpiresAt.toISOString(),
      resumed,
      chunk: { minBytes: limits.minChunkBytes, maxBytes: limits.maxChunkBytes, preferredBytes: limits.preferredChunkBytes },
      alreadyDelivered: status.instances.filter((i) => i.state === 'already-delivered').map((i) => i.sopInstanceUid),
      status,
    };
  }

  /**
   * Receives one chunk. Idempotent for identical retries; refuses ranges that clash with bytes held
   * or being written; keeps nothing unless the digest matches and every byte is on disk.
   */
  async receiveChunk(uploadId: string, query: ChunkQuery, headers: ChunkHeaders, body: Readable): Promise<ChunkResponse> {
    const started = process.hrtime.bigint();
    // The upload, the instance and its chunks in one read: a small instance's cost is round trips.
    const target = await this.repo.chunkTarget(uploadId, query.instance);
    if (!target) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
    const { upload, instance, chunks } = target;
    if (upload.state !== 'receiving') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', `this upload is ${upload.state} and takes no more data`);
    if (!instance) throw new RelayError(404, 'UPLOAD_UNKNOWN_INSTANCE', `instance ${query.instance} is not in this upload's manifest`);
    const length = headers.contentLength;
    if (length === undefined) throw new RelayError(411, 'BAD_REQUEST', 'a chunk needs a Content-Length header');
    if (length > this.options.limits.maxChunkBytes) {
      this.reject('too_large');
      throw new RelayError(413, 'UPLOAD_TOO_LARGE', `chunks are at most ${this.options.limits.maxChunkBytes} bytes`, { limit: 'maxChunkBytes', maxChunkBytes: this.options.limits.maxChunkBytes });
    }
    if (length === 0) throw new RelayError(400, 'BAD_REQUEST', 'an empty chunk carries nothing');
    const digest = sha256FromContentDigest(headers.contentDigest);
    if (!digest) throw new RelayError(400, 'BAD_REQUEST', 'a chunk needs a Content-Digest header with its sha-256 (RFC 9530)');
    const offset = query.offset;
    const end = offset + length;
    const response = (duplicate: boolean, receivedBytes: number, held: ByteRangeSet): ChunkResponse => ({
      instance: instance.index, offset, length, duplicate, receivedBytes, contiguousBytes: held.contiguousEnd, instanceComplete: receivedBytes >= instance.size,
    });

    if (instance.state === 'already-delivered') return response(true, instance.size, new ByteRangeSet([[0, instance.size]]));
    const held = new ByteRangeSet(chunks.map((c) => [c.offset, c.offset + c.length] as const));
    if (end > instance.size) {
      this.reject('offset');
      throw this.offsetMismatch(instance, held, `the chunk ends at byte ${end}, past the instance's ${instance.size} bytes`);
    }
    const same = chunks.find((c) => c.offset === offset && c.length === length);
    if (same) {
      if (same.sha256 === digest) return response(true, instance.receivedBytes, held);
      this.reject('conflict');
      throw this.offsetMismatch(instance, held, 'different bytes are already held for this range');
    }
    if (held.overlaps(offset, end)) {
      this.reject('offset');
      throw this.offsetMismatch(instance, held, `bytes ${offset}-${end} overlap bytes the relay already holds`);
    }
    // A clash with a chunk being written: a dead connection's writer is dropped, so the range is free
    // for this one at its retry, rather than after chunkIdleTimeoutSeconds.
    const reservation = await this.writers.reserve(uploadId, instance.index, [offset, end], body);
    if (!reservation) {
      this.reject('in_progress');
      throw new RelayError(409, 'UPLOAD_CHUNK_IN_PROGRESS', undefined, {}, { 'retry-after': '1' });
    }
    let carried: ResumableSha256 | undefined;
    try {
      // The whole instance in one chunk (all but the largest): one piece, its digest the instance's.
      const whole = instance.receivedBytes === 0 && offset === 0 && length === instance.size;
      let written;
      const claim = await this.space.admitChunk(length);
      try {
        carried = whole ? undefined : await this.hashes.forChunk(uploadId, instance.index, offset);
        written = await this.options.storage.writePiece(uploadId, instance.index, { offset, length }, body, carried);
      } catch (error) {
        if (error instanceof ShortWriteError || error instanceof OverlongWriteError) {
          this.reject('length');
          throw new RelayError(400, 'UPLOAD_LENGTH_MISMATCH', error.message);
        }
        // The disk filled anyway (something else wrote to it): nothing of the chunk is recorded, so
        // none of it counts (a whole instance's file is removed by the storage); the client is told
        // to come back, not that the relay broke.
        if (isDiskFull(error)) throw await this.space.diskFull(uploadId, instance.index, error);
        throw error;
      } finally {
        claim.release();
      }
      if (written.sha256 !== digest) {
        this.reject('digest');
        throw new RelayError(400, 'UPLOAD_DIGEST_MISMATCH');
      }
      const now = this.options.now();
      const sha256State = carried?.save();
      let recorded;
      try {
        recorded = await this.repo.recordChunk(uploadId, instance.index, { offset, length, sha256: digest, sha256State }, now.toISOString(), this.expiryFrom(now));
      } catch (error) {
        // SQLITE_FULL: the transaction rolled back, so the chunk is not held; the client sends it again.
        if (isDiskFull(error)) throw await this.space.diskFull(uploadId, instance.index, error);
        throw error;
      }
      if (!recorded.recorded) return await this.unrecorded(uploadId, instance, offset, length, digest, response);
      this.options.metrics.bytesReceived.inc(length);
      this.options.metrics.chunkSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      held.add(offset, end);
      if (whole && written.head) this.verification.keepHead(uploadId, instance.index, written.head);
      if (recorded.receivedBytes >= instance.size) {
        this.options.events.publish(upload.userId, { type: 'received', uploadId, instance: instance.index });
        void this.verification.verify(uploadId, instance.index, whole ? {
          upload, instance: { ...instance, receivedBytes: recorded.receivedBytes, state: 'received' }, chunk: { offset, length, sha256: digest },
        } : undefined);
      }
      return response(false, recorded.receivedBytes, held);
    } finally {
      carried?.dispose();
      await this.writers.release(reservation);
    }
  }

  /**
   * What a chunk the store did not record is answered: the upload stopped taking data meanwhile,
   * or another request recorded an overlapping chunk first (a client's retry that another relay
   * took while this connection still ran: the claims keep that from happening, short of a claim
   * lost with the database). Bytes already held, the same ones, are a duplicate, as up front.
   */
  private async unrecorded(uploadId: string, instance: InstanceRecord, offset: number, length: number, digest: string,
    response: (duplicate: boolean, receivedBytes: number, held: ByteRangeSet) => ChunkResponse): Promise<ChunkResponse> {
    const upload = await this.requireUpload(uploadId);
    if (upload.state !== 'receiving') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', 'the upload stopped taking data while this chunk arrived');
    const chunks = await this.repo.chunks(uploadId, instance.index);
    const held = new ByteRangeSet(chunks.map((c) => [c.offset, c.offset + c.length] as const));
    const current = await this.repo.instance(uploadId, instance.index);
    if (chunks.some((c) => c.offset === offset && c.length === length && c.sha256 === digest)) return response(true, current?.receivedBytes ?? 0, held);
    this.reject('offset');
    throw this.offsetMismatch(current ?? instance, held, `bytes ${offset}-${offset + length} overlap bytes the relay recorded meanwhile`);
  }

  async status(uploadId: string): Promise<UploadStatus> {
    return this.view.of(await this.requireUpload(uploadId));
  }

  /** Offsets of one instance, for HEAD requests. */
  async instanceOffsets(uploadId: string, index: number): Promise<{ size: number; receivedBytes: number; contiguousBytes: number }> {
    await this.requireUpload(uploadId);
    const offsets = await this.view.instanceOffsets(uploadId, index);
    if (!offsets) throw new RelayError(404, 'UPLOAD_UNKNOWN_INSTANCE');
    return offsets;
  }

  /**
   * Verifies every instance and hands the study to forwarding. Idempotent: completing an accepted
   * upload again answers its status.
   */
  async complete(uploadId: string): Promise<UploadStatus> {
    const upload = await this.requireUpload(uploadId);
    if (upload.state === 'accepted') return this.view.of(upload);
    if (upload.state !== 'receiving') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', `this upload is ${upload.state}`);
    const status = await this.view.of(upload);
    const incomplete = status.instances.filter((i) => i.state === 'receiving');
    if (incomplete.length > 0) {
      throw new RelayError(409, 'UPLOAD_INCOMPLETE', `${incomplete.length} instance(s) are not fully received`, {
        incomplete: incomplete.slice(0, 100).map((i) => ({ index: i.index, missing: i.missing })),
      });
    }
    await Promise.all(status.instances.filter((i) => i.state === 'received').map((i) => this.verification.verify(uploadId, i.index)));
    if (await this.repo.setUploadState(uploadId, 'accepted', this.options.now().toISOString(), ['receiving'])) {
      this.options.metrics.uploadsCompleted.inc();
      this.options.metrics.activeUploads.dec();
      this.options.log?.info({ uploadId }, 'upload complete, handed to forwarding');
      this.options.events.publish(upload.userId, { type: 'accepted', uploadId });
      this.options.onStudyAccepted?.(uploadId);
    }
    return this.status(uploadId);
  }

  /** Cancels an upload still receiving and frees its space. Accepted studies belong to forwarding. */
  async cancel(uploadId: string): Promise<void> {
    const upload = await this.requireUpload(uploadId);
    if (upload.state === 'accepted') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', 'this study was already accepted for delivery');
    if (await this.repo.setUploadState(uploadId, 'cancelled', this.options.now().toISOString(), ['receiving'])) {
      this.options.metrics.activeUploads.dec();
      this.options.log?.info({ uploadId }, 'upload cancelled');
    }
    // The carried hash states hold a few bytes of the instances each: none outlives the upload.
    await this.repo.forgetHashStates(uploadId);
    await this.options.storage.deleteUpload(uploadId);
  }

  /** Expires abandoned uploads and deletes temporary data no upload needs (e.g. after a crash). */
  cleanup(): Promise<{ expired: number; orphans: number }> {
    return this.expiry.sweep();
  }

  /** After a restart: re-verify instances whose verification was cut off, and start the expiry sweep. */
  async start(): Promise<void> {
    this.options.metrics.activeUploads.set(await this.repo.countAllActive());
    for (const { uploadId, index } of await this.repo.unverifiedInstances()) void this.verification.verify(uploadId, index);
    // Verified but never queued (a relay older than the one commit for both): queue them now, or
    // they would never be delivered. Queueing is idempotent, and an unrouted instance stays so.
    const hook = this.options.onInstanceVerified;
    if (hook) {
      for (const { uploadId, index } of await this.repo.verifiedWithoutDelivery()) {
        const announce = await this.options.store.withTransaction((tx) => hook(tx, uploadId, index));
        announce();
      }
    }
    this.expiry.start();
  }

  async close(): Promise<void> {
    await this.expiry.stop();
    this.writers.close();
    await this.verification.idle();
  }

  /** Whether a new upload of `bytes` would be admitted now (for /readyz): UploadSpace. */
  hasRoomForUploads(bytes: number): Promise<boolean> {
    return this.space.hasRoomForUploads(bytes);
  }

  /** Whether a chunk of the preferred size would be taken now (for /readyz): UploadSpace. */
  hasRoomForChunks(): Promise<boolean> {
    return this.space.hasRoomForChunks();
  }

  /** How long a client refused for space should wait (507 and /readyz's 503): UploadSpace. */
  storageRetryAfterSeconds(): Promise<number> {
    return this.space.retryAfterSeconds();
  }

  private offsetMismatch(instance: InstanceRecord, held: ByteRangeSet, message: string): RelayError {
    return new RelayError(409, 'UPLOAD_OFFSET_MISMATCH', message, {
      instance: instance.index,
      receivedBytes: held.total,
      contiguousBytes: held.contiguousEnd,
      missing: held.missing(instance.size),
    }, { 'upload-offset': String(held.contiguousEnd) });
  }

  private async requireUpload(uploadId: string): Promise<UploadRecord> {
    const upload = await this.repo.find(uploadId);
    if (!upload) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
    return upload;
  }

  private expiryFrom(now: Date): string {
    return new Date(now.getTime() + this.options.limits.expireAfterSeconds * 1000).toISOString();
  }

  private reject(reason: string): void {
    this.options.metrics.chunkRejections.inc({ reason });
  }
}
