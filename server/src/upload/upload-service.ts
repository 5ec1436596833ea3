import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { AccessPrincipal, TokenService } from '../auth/token-service.js';
import type { RelayConfig } from '../config/relay-config.js';
import type { RelayDatabase } from '../db/database.js';
import { RelayError, storageFullError } from '../http/relay-error.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { RelayEvents } from '../ops/relay-events.js';
import type { DeliveryItemStatus } from '../forward/deliveries-repository.js';
import type { ChunkQuery, ChunkResponse, InitUploadRequest, InitUploadResponse, InstanceStatus, UploadStatus } from '../protocol/upload-protocol.js';
import { isDiskFull } from '../storage/disk-full.js';
import { OverlongWriteError, ShortWriteError, type SpaceClaim, type TemporaryStorage } from '../storage/storage.js';
import { ByteRangeSet, type ByteRange } from './byte-ranges.js';
import { sha256FromContentDigest } from './content-digest.js';
import { InstanceVerifier } from './instance-verifier.js';
import { HashCarrier } from './hash-carrier.js';
import type { ResumableSha256 } from './resumable-sha256.js';
import { Semaphore } from './semaphore.js';
import { UploadsRepository, type InstanceRecord, type UploadRecord } from './uploads-repository.js';

export interface UploadServiceOptions {
  db: RelayDatabase;
  storage: TemporaryStorage;
  tokens: TokenService;
  metrics: RelayMetrics;
  limits: RelayConfig['upload'];
  uploadTokenSeconds: number;
  now: () => Date;
  /** Lifecycle events for GET /events. */
  events: RelayEvents;
  /** Called for each instance as soon as it is verified: forwarding starts while the rest still arrives. */
  onInstanceVerified?: (uploadId: string, index: number) => void;
  /** Called once per upload when it is complete and verified: the relay owns its delivery from here. */
  onStudyAccepted?: (uploadId: string) => void;
  /** Delivery state per destination and instance, for status. */
  deliveryItems?: (uploadId: string) => readonly DeliveryItemStatus[];
  log?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /**
   * A chunk being written whose connection has moved no byte for this long is dropped when another
   * connection asks for its range (its client gave it up and sends the range again). Default 2 s.
   */
  staleWriterMs?: number;
}

/** A chunk being received: its range, and the connection it comes over, to tell a live writer from a dead one. */
interface Writer {
  range: ByteRange;
  body: Readable;
  bytesRead: number;
  movedAt: number;
}

export interface ChunkHeaders {
  contentLength: number | undefined;
  contentDigest: string | string[] | undefined;
}

/**
 * The upload protocol's rules: manifests, resumable chunk bookkeeping, verification, completion,
 * cancellation and expiry. Storage is reached only through TemporaryStorage. Every chunk is
 * durable before it is acknowledged (storage fsync, then its SQLite commit, which the HTTP layer
 * syncs before answering: WalDurability), so a relay killed at any moment, or a power cut, loses
 * nothing it confirmed.
 */
/** Instance heads kept for verification at most (64 KiB each: 16 MiB). */
const HEADS_KEPT = 256;
/** Retry-After while deliveries free space: a study's delivery takes seconds, a retry costs one small request. */
const RETRY_WHILE_DELIVERING_SECONDS = 10;
/** Retry-After when nothing the relay does frees space; clients also watch /readyz meanwhile. */
const RETRY_WHEN_STUCK_SECONDS = 300;
/** A delivery item queued to go within this long counts as under way (one backing off from a PACS that is down does not). */
const DELIVERY_SOON_MS = 60_000;

export class UploadService {
  private readonly repo: UploadsRepository;
  private readonly verifier: InstanceVerifier;
  /** Byte ranges being written right now, per `${uploadId}/${index}`: concurrent overlapping chunks are refused. */
  private readonly inFlight = new Map<string, Writer[]>();
  /** Notes which chunk connections moved, twice a second while any chunk is arriving (watchWriters). */
  private writersTimer: NodeJS.Timeout | undefined;
  private readonly verifications = new Map<string, Promise<void>>();
  /**
   * The first bytes of instances received whole, by `${uploadId}/${index}`, until their verification
   * reads its header from them. Bounded (HEADS_KEPT, oldest out): one not found is read from disk.
   */
  private readonly heads = new Map<string, Buffer>();
  /** Verification reads whole instances: two at a time keeps the disk for incoming chunks. */
  private readonly verifySlots = new Semaphore(2);
  private cleanupTimer: NodeJS.Timeout | undefined;
  /** New uploads are admitted one at a time (see init). */
  private readonly admissions = new Semaphore(1);
  /** Each instance's SHA-256, carried from chunk to chunk so verification need not read it again. */
  private readonly hashes: HashCarrier;

  constructor(private readonly options: UploadServiceOptions) {
    this.repo = new UploadsRepository(options.db);
    this.verifier = new InstanceVerifier(options.storage, new Set(options.limits.allowedSopClasses));
    this.hashes = new HashCarrier(this.repo);
  }

  /** The server's logger, once the app exists (logs carry upload ids and instance indexes, never PHI). */
  setLogger(log: NonNullable<UploadServiceOptions['log']>): void {
    this.options.log = log;
  }

  get repository(): UploadsRepository {
    return this.repo;
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

    let upload = this.repo.findResumable(principal.userId, study.studyInstanceUid, manifestHash);
    let resumed = upload !== undefined;
    if (!upload) {
      // Admissions are decided one at a time, from the measurement of the room to the insert: two
      // inits arriving together cannot both be admitted into the same free bytes (the second counts
      // the first among the uploads still to receive: requireRoom).
      [upload, resumed] = await this.admissions.run(async (): Promise<[UploadRecord, boolean]> => {
        // A copy of this init that arrived meanwhile (a client sending it again over a lossy link)
        // may have created the upload while this one waited: one upload, both answered with it.
        const copy = this.repo.findResumable(principal.userId, study.studyInstanceUid, manifestHash);
        if (copy) return [copy, true];
        if (this.repo.countActive(principal.userId) >= limits.maxActiveUploadsPerUser) {
          throw new RelayError(429, 'UPLOAD_LIMIT_REACHED', `at most ${limits.maxActiveUploadsPerUser} uploads may be in progress per account`, { maxActiveUploadsPerUser: limits.maxActiveUploadsPerUser });
        }
        const delivered = this.repo.alreadyDelivered(instances);
        await this.requireRoom(instances.reduce((sum, i) => (delivered.has(i.sopInstanceUid) ? sum : sum + i.size), 0));
        const id = randomBytes(16).toString('base64url');
        const now = this.options.now();
        this.repo.insert({
          id, userId: principal.userId, studyInstanceUid: study.studyInstanceUid, modality: study.modality, serviceLevel: study.serviceLevel,
          clinicalHistory: study.clinicalHistory, sourceWorkstation: study.sourceWorkstation, facility: study.facility, manifestHash,
          chunkBytes: limits.preferredChunkBytes, totalBytes, expiresAt: this.expiryFrom(now),
          instances: instances.map((i) => ({ ...i, state: delivered.has(i.sopInstanceUid) ? 'already-delivered' : 'receiving' })),
        }, now.toISOString());
        this.options.metrics.uploadsStarted.inc();
        this.options.metrics.activeUploads.inc();
        this.options.log?.info({ uploadId: id, instances: instances.length, totalBytes, serviceLevel: study.serviceLevel }, 'upload started');
        return [this.repo.find(id)!, false];
      });
    }
    if (resumed) {
      // The same study sent again as STAT, or with the clinical history it lacked (the workstation's
      // job was made STAT): the upload takes them over, so what is still to deliver goes before
      // routine work. Nothing goes back to routine, and a history given first is kept.
      const stat = study.serviceLevel === 'STAT' && upload.serviceLevel !== 'STAT';
      const clinicalHistory = study.clinicalHistory && !upload.clinicalHistory ? study.clinicalHistory : undefined;
      if (stat || clinicalHistory) {
        this.repo.upgrade(upload.id, { stat, clinicalHistory }, this.options.now().toISOString());
        upload = this.repo.find(upload.id)!;
      }
      this.options.log?.info({ uploadId: upload.id, ...(stat ? { serviceLevel: 'STAT' } : {}) }, 'upload resumed');
    }
    const tokenExpiresAt = new Date(this.options.now().getTime() + this.options.uploadTokenSeconds * 1000);
    const status = this.statusOf(upload);
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
    const upload = this.requireUpload(uploadId);
    if (upload.state !== 'receiving') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', `this upload is ${upload.state} and takes no more data`);
    const instance = this.repo.instance(uploadId, query.instance);
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
    const chunks = this.repo.chunks(uploadId, instance.index);
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
    const key = `${uploadId}/${instance.index}`;
    const writing = this.inFlight.get(key) ?? [];
    const clashing = writing.filter(({ range: [s, e] }) => offset < e && s < end);
    if (clashing.length > 0) {
      // Dead connections are dropped so the range is free for this one at its retry, rather than
      // after chunkIdleTimeoutSeconds: on a lossy link a client gives up a stuck connection, and
      // its reset may be lost on the way.
      for (const writer of clashing) this.dropIfStale(writer);
      this.reject('in_progress');
      throw new RelayError(409, 'UPLOAD_CHUNK_IN_PROGRESS', undefined, {}, { 'retry-after': '1' });
    }
    const reservation: Writer = { range: [offset, end], body, bytesRead: bytesReadOf(body), movedAt: performance.now() };
    writing.push(reservation);
    this.inFlight.set(key, writing);
    this.watchWriters();
    let carried: ResumableSha256 | undefined;
    try {
      // The whole instance in one chunk (all but the largest): one piece, its digest the instance's.
      const whole = instance.receivedBytes === 0 && offset === 0 && length === instance.size;
      let written;
      const claim = await this.admitChunk(length);
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
        if (isDiskFull(error)) throw this.diskFull(uploadId, instance.index, error);
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
        recorded = this.repo.recordChunk(uploadId, instance.index, { offset, length, sha256: digest, sha256State }, now.toISOString(), this.expiryFrom(now));
      } catch (error) {
        // SQLITE_FULL: the transaction rolled back, so the chunk is not held; the client sends it again.
        if (isDiskFull(error)) throw this.diskFull(uploadId, instance.index, error);
        throw error;
      }
      if (!recorded.recorded) throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', 'the upload stopped taking data while this chunk arrived');
      this.options.metrics.bytesReceived.inc(length);
      this.options.metrics.chunkSeconds.observe(Number(process.hrtime.bigint() - started) / 1e9);
      held.add(offset, end);
      if (whole && written.head) this.keepHead(key, written.head);
      if (recorded.receivedBytes >= instance.size) {
        this.options.events.emitForUpload(uploadId, { type: 'received', uploadId, instance: instance.index });
        void this.verifyInstance(uploadId, instance.index);
      }
      return response(false, recorded.receivedBytes, held);
    } finally {
      carried?.dispose();
      const remaining = (this.inFlight.get(key) ?? []).filter((r) => r !== reservation);
      if (remaining.length > 0) this.inFlight.set(key, remaining);
      else this.inFlight.delete(key);
    }
  }

  /**
   * Drops a chunk being written whose connection moved no byte for staleWriterMs (as noted by
   * watchWriters, to half a second). The writer fails, keeping nothing, and frees its range.
   */
  private dropIfStale(writer: Writer): void {
    const now = performance.now();
    if (noteMovement(writer, now) || now - writer.movedAt < (this.options.staleWriterMs ?? 2_000)) return;
    this.options.log?.info({ instance: writer.range }, 'chunk connection silent while its range is sent again: dropped');
    writer.body.destroy(new Error('chunk connection superseded'));
  }

  /** While chunks arrive, notes twice a second which of their connections moved, for dropIfStale. */
  private watchWriters(): void {
    if (this.writersTimer) return;
    this.writersTimer = setInterval(() => {
      if (this.inFlight.size === 0) {
        clearInterval(this.writersTimer);
        this.writersTimer = undefined;
        return;
      }
      const now = performance.now();
      for (const writers of this.inFlight.values()) for (const writer of writers) noteMovement(writer, now);
    }, 500);
    this.writersTimer.unref();
  }

  private keepHead(key: string, head: Buffer): void {
    if (this.heads.size >= HEADS_KEPT) this.heads.delete(this.heads.keys().next().value!);
    this.heads.set(key, head);
  }

  status(uploadId: string): UploadStatus {
    return this.statusOf(this.requireUpload(uploadId));
  }

  /** Offsets of one instance, for HEAD requests. */
  instanceOffsets(uploadId: string, index: number): { size: number; receivedBytes: number; contiguousBytes: number } {
    this.requireUpload(uploadId);
    const instance = this.repo.instance(uploadId, index);
    if (!instance) throw new RelayError(404, 'UPLOAD_UNKNOWN_INSTANCE');
    const held = new ByteRangeSet(this.repo.chunks(uploadId, index).map((c) => [c.offset, c.offset + c.length] as const));
    return { size: instance.size, receivedBytes: instance.receivedBytes, contiguousBytes: instance.state === 'already-delivered' ? instance.size : held.contiguousEnd };
  }

  /**
   * Verifies every instance and hands the study to forwarding. Idempotent: completing an accepted
   * upload again answers its status.
   */
  async complete(uploadId: string): Promise<UploadStatus> {
    const upload = this.requireUpload(uploadId);
    if (upload.state === 'accepted') return this.statusOf(upload);
    if (upload.state !== 'receiving') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', `this upload is ${upload.state}`);
    const status = this.statusOf(upload);
    const incomplete = status.instances.filter((i) => i.state === 'receiving');
    if (incomplete.length > 0) {
      throw new RelayError(409, 'UPLOAD_INCOMPLETE', `${incomplete.length} instance(s) are not fully received`, {
        incomplete: incomplete.slice(0, 100).map((i) => ({ index: i.index, missing: i.missing })),
      });
    }
    await Promise.all(status.instances.filter((i) => i.state === 'received').map((i) => this.verifyInstance(uploadId, i.index)));
    if (this.repo.setUploadState(uploadId, 'accepted', this.options.now().toISOString(), ['receiving'])) {
      this.options.metrics.uploadsCompleted.inc();
      this.options.metrics.activeUploads.dec();
      this.options.log?.info({ uploadId }, 'upload complete, handed to forwarding');
      this.options.events.emitForUpload(uploadId, { type: 'accepted', uploadId });
      this.options.onStudyAccepted?.(uploadId);
    }
    return this.status(uploadId);
  }

  /** Cancels an upload still receiving and frees its space. Accepted studies belong to forwarding. */
  async cancel(uploadId: string): Promise<void> {
    const upload = this.requireUpload(uploadId);
    if (upload.state === 'accepted') throw new RelayError(409, 'UPLOAD_NOT_ACTIVE', 'this study was already accepted for delivery');
    if (this.repo.setUploadState(uploadId, 'cancelled', this.options.now().toISOString(), ['receiving'])) {
      this.options.metrics.activeUploads.dec();
      this.options.log?.info({ uploadId }, 'upload cancelled');
    }
    await this.options.storage.deleteUpload(uploadId);
  }

  /** Expires abandoned uploads and deletes temporary data no upload needs (e.g. after a crash). */
  async cleanup(): Promise<{ expired: number; orphans: number }> {
    const now = this.options.now().toISOString();
    let expired = 0;
    for (const id of this.repo.expiredUploadIds(now)) {
      if (this.repo.setUploadState(id, 'expired', now, ['receiving'])) {
        expired++;
        this.options.metrics.uploadsExpired.inc();
        this.options.metrics.activeUploads.dec();
        this.options.log?.info({ uploadId: id }, 'upload expired');
      }
      await this.options.storage.deleteUpload(id);
    }
    let orphans = 0;
    for (const id of await this.options.storage.listUploads()) {
      if (this.repo.isDisposable(id)) {
        await this.options.storage.deleteUpload(id);
        orphans++;
      }
    }
    return { expired, orphans };
  }

  /** After a restart: re-verify instances whose verification was cut off, and start the cleanup timer. */
  start(): void {
    this.options.metrics.activeUploads.set(this.repo.countAllActive());
    for (const { uploadId, index } of this.repo.unverifiedInstances()) void this.verifyInstance(uploadId, index);
    // Killed between 'verified' and queueing: queue them now, or they would never be delivered.
    for (const { uploadId, index } of this.repo.verifiedWithoutDelivery()) this.options.onInstanceVerified?.(uploadId, index);
    this.cleanupTimer = setInterval(() => {
      this.cleanup().catch((error: unknown) => this.options.log?.error({ err: error }, 'upload cleanup failed'));
    }, this.options.limits.cleanupIntervalSeconds * 1000);
    this.cleanupTimer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.cleanupTimer);
    clearInterval(this.writersTimer);
    this.writersTimer = undefined;
    await Promise.allSettled([...this.verifications.values()]);
  }

  private verifyInstance(uploadId: string, index: number): Promise<void> {
    const key = `${uploadId}/${index}`;
    const running = this.verifications.get(key);
    if (running) return running;
    const job = this.verifySlots.run(async () => {
      const upload = this.repo.find(uploadId);
      const instance = this.repo.instance(uploadId, index);
      if (!upload || !instance || instance.state !== 'received') return;
      // Bytes hashed as they were written (one chunk holding all of it, or the hash carried from
      // chunk to chunk) are not read again: instanceSha256.
      const head = this.heads.get(key);
      this.heads.delete(key);
      const outcome = await this.verifier.verify({
        uploadId, index, size: instance.size, sha256: instance.sha256, studyInstanceUid: upload.studyInstanceUid,
        sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid, head,
        pieces: this.repo.chunks(uploadId, index), carriedHash: this.repo.furthestHashState(uploadId, index),
      });
      if (outcome.ok) {
        // Verified and queued for delivery in one commit: no crash can fall between the two, and a
        // small instance costs one disk flush here instead of two.
        this.options.db.transaction(() => {
          this.repo.setInstanceState(uploadId, index, 'verified', { transferSyntaxUid: outcome.transferSyntaxUid });
          this.repo.forgetHashStates(uploadId, index);
          this.options.events.emitForUpload(uploadId, { type: 'validated', uploadId, instance: index, ok: true });
          this.options.onInstanceVerified?.(uploadId, index);
        })();
      } else {
        this.options.events.emitForUpload(uploadId, { type: 'validated', uploadId, instance: index, ok: false, reason: outcome.code });
        this.options.db.transaction(() => {
          this.repo.setInstanceState(uploadId, index, 'rejected', { rejectionCode: outcome.code, rejectionReason: outcome.reason });
          this.repo.forgetHashStates(uploadId, index);
        })();
        this.options.metrics.instanceRejections.inc({ reason: outcome.code });
        this.options.log?.info({ uploadId, instance: index, reason: outcome.code }, 'instance rejected');
      }
    }).catch((error: unknown) => {
      // An I/O failure leaves the instance 'received': complete() or a restart verifies it again.
      this.options.log?.error({ err: error, uploadId, instance: index }, 'instance verification failed');
    }).finally(() => this.verifications.delete(key));
    this.verifications.set(key, job);
    return job;
  }

  private statusOf(upload: UploadRecord): UploadStatus {
    const ranges = this.repo.chunkRangesByInstance(upload.id);
    const items = this.options.deliveryItems?.(upload.id) ?? [];
    const byInstance = new Map<number, DeliveryItemStatus[]>();
    for (const item of items) byInstance.set(item.index, [...(byInstance.get(item.index) ?? []), item]);
    const instances = this.repo.instances(upload.id).map((instance) => this.instanceStatus(instance, ranges.get(instance.index) ?? [], byInstance.get(instance.index) ?? []));
    return {
      uploadId: upload.id,
      state: upload.state,
      serviceLevel: upload.serviceLevel,
      expiresAt: upload.expiresAt,
      totalBytes: upload.totalBytes,
      receivedBytes: instances.reduce((sum, i) => sum + i.receivedBytes, 0),
      deliveries: summarizeDeliveries(items),
      instances,
    };
  }

  private instanceStatus(instance: InstanceRecord, ranges: ByteRange[], items: readonly DeliveryItemStatus[]): InstanceStatus {
    const delivered = instance.state === 'already-delivered';
    const held = new ByteRangeSet(delivered ? [[0, instance.size]] : ranges);
    return {
      index: instance.index,
      sopInstanceUid: instance.sopInstanceUid,
      size: instance.size,
      receivedBytes: delivered ? instance.size : instance.receivedBytes,
      contiguousBytes: held.contiguousEnd,
      missing: held.missing(instance.size).map(([s, e]) => [s, e] as [number, number]),
      state: instance.state,
      ...(instance.transferSyntaxUid ? { transferSyntaxUid: instance.transferSyntaxUid } : {}),
      ...(instance.rejectionCode ? { rejection: { code: instance.rejectionCode, reason: instance.rejectionReason ?? '' } } : {}),
      deliveryState: deliveryStateOf(instance, items),
      destinations: items.map((item) => ({
        name: item.destination, state: item.state, attempts: item.attempts,
        ...(item.state !== 'delivered' && item.state !== 'confirmed' && item.lastError ? { reason: item.lastError } : {}),
        ...(item.state === 'failed' && item.failureCode ? { code: item.failureCode } : {}),
        ...(item.warning ? { warning: item.warning } : {}),
      })),
    };
  }

  private offsetMismatch(instance: InstanceRecord, held: ByteRangeSet, message: string): RelayError {
    return new RelayError(409, 'UPLOAD_OFFSET_MISMATCH', message, {
      instance: instance.index,
      receivedBytes: held.total,
      contiguousBytes: held.contiguousEnd,
      missing: held.missing(instance.size),
    }, { 'upload-offset': String(held.contiguousEnd) });
  }

  private requireUpload(uploadId: string): UploadRecord {
    const upload = this.repo.find(uploadId);
    if (!upload) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
    return upload;
  }

  /**
   * Admission: a new upload's bytes must fit, with the bytes that the uploads already admitted
   * still have to receive, above the floor (TemporaryStorage.hasRoom 'new-upload'; init admits one
   * at a time). Counting only the new study let five uploads that together did not fit all in; the
   * disk then filled under their chunks and under the database.
   */
  private async requireRoom(needed: number): Promise<void> {
    const promised = this.promisedBytes();
    if (!(await this.options.storage.hasRoom(promised + needed, 'new-upload'))) {
      this.options.log?.info({ needed, promised }, 'upload refused: not enough free space for it and the uploads already admitted');
      throw this.storageFull();
    }
  }

  /**
   * Whether a new upload of `bytes` would be admitted now, by the same rule as init (for /readyz):
   * a client told "ready" must not meet a 507 at its next init for want of space.
   */
  async hasRoomForUploads(bytes: number): Promise<boolean> {
    return this.options.storage.hasRoom(this.promisedBytes() + bytes, 'new-upload');
  }

  /** Whether a chunk of the preferred size would be taken now (admitChunk's rule: above the database's reserve). */
  async hasRoomForChunks(): Promise<boolean> {
    return this.options.storage.hasRoom(this.options.limits.preferredChunkBytes, 'chunk');
  }

  /** What active uploads still have to receive (upload.reservationIdleSeconds: idle ones hold nothing). */
  private promisedBytes(): number {
    const activeSince = new Date(this.options.now().getTime() - this.options.limits.reservationIdleSeconds * 1000).toISOString();
    return this.repo.bytesToReceive(activeSince);
  }

  /**
   * Claims room for a chunk (TemporaryStorage.admit), which leaves upload.reserveDiskBytes free for
   * the database: the relay's own writes never take the last bytes SQLite needs to record chunks,
   * verifications and deliveries. 507 when it does not fit.
   */
  private async admitChunk(bytes: number): Promise<SpaceClaim> {
    const claim = await this.options.storage.admit(bytes);
    if (!claim) {
      this.reject('storage_full');
      throw this.storageFull();
    }
    return claim;
  }

  private diskFull(uploadId: string, index: number, error: unknown): RelayError {
    this.reject('storage_full');
    this.options.log?.error({ uploadId, instance: index, code: (error as { code?: string }).code }, 'chunk not kept: the disk is full');
    return this.storageFull();
  }

  private storageFull(): RelayError {
    return storageFullError(this.storageRetryAfterSeconds());
  }

  /**
   * How long a client refused for space (507, or /readyz's 503) should wait: briefly while
   * deliveries are under way, since each accepted study delivered everywhere frees its data; long
   * when no delivery is about to free anything (space has to be freed by someone, and GET /readyz
   * tells a waiting client when it was).
   */
  storageRetryAfterSeconds(): number {
    const soon = new Date(this.options.now().getTime() + DELIVERY_SOON_MS).toISOString();
    return this.repo.deliveriesFreeingSpace(soon) ? RETRY_WHILE_DELIVERING_SECONDS : RETRY_WHEN_STUCK_SECONDS;
  }

  private expiryFrom(now: Date): string {
    return new Date(now.getTime() + this.options.limits.expireAfterSeconds * 1000).toISOString();
  }

  private reject(reason: string): void {
    this.options.metrics.chunkRejections.inc({ reason });
  }
}

/** One word for an instance's delivery across its destinations, for lists and badges. */
function deliveryStateOf(instance: InstanceRecord, items: readonly DeliveryItemStatus[]): string {
  if (instance.state === 'already-delivered') return 'delivered';
  if (instance.state === 'rejected') return 'not-sent';
  if (items.length === 0) return instance.state === 'verified' ? 'unrouted' : 'pending';
  if (items.some((i) => i.state === 'failed')) return 'failed';
  if (items.every((i) => i.state === 'confirmed')) return 'confirmed';
  if (items.every((i) => i.state === 'delivered' || i.state === 'confirmed')) return 'delivered';
  return items.some((i) => i.state === 'sending') ? 'sending' : 'queued';
}

function summarizeDeliveries(items: readonly DeliveryItemStatus[]): UploadStatus['deliveries'] {
  const byDestination = new Map<string, DeliveryItemStatus[]>();
  for (const item of items) byDestination.set(item.destination, [...(byDestination.get(item.destination) ?? []), item]);
  return [...byDestination.entries()].map(([destination, list]) => {
    const count = (state: string) => list.filter((i) => i.state === state).length;
    const delivered = count('delivered');
    const confirmed = count('confirmed');
    const failed = count('failed');
    const state = failed > 0 && delivered + confirmed + failed === list.length ? 'failed'
      : confirmed === list.length ? 'confirmed'
        : delivered + confirmed === list.length ? 'delivered'
          : 'forwarding';
    return { destination, state, total: list.length, delivered, confirmed, failed };
  });
}

/** Bytes received so far on the connection a request body comes over (0 for a body with no socket). */
function bytesReadOf(body: Readable): number {
  return (body as Readable & { socket?: { bytesRead?: number } }).socket?.bytesRead ?? 0;
}

/** Whether the writer's connection received bytes since last noted (and notes when). */
function noteMovement(writer: Writer, now: number): boolean {
  const read = bytesReadOf(writer.body);
  if (read === writer.bytesRead) return false;
  writer.bytesRead = read;
  writer.movedAt = now;
  return true;
}
