import type { InstanceState, ManifestInstance, UploadState } from '../../protocol/upload-protocol.js';
import { toInstance, toUpload, type InstanceRow, type UploadRow } from '../upload-rows.js';
import type { ChunkRecord, ChunkTarget, InstanceRecord, NewUpload, RoutingFacts, UploadRecord, UploadsStore } from '../uploads-store.js';
import type { Synchronous } from './async-facade.js';
import type { RelayDatabase } from './database.js';

/**
 * UploadsStore's SQL. Writes of several rows run as one transaction (a savepoint inside a unit of
 * work), so each is atomic on its own too.
 */
export class SqliteUploads implements Synchronous<UploadsStore> {
  constructor(private readonly db: RelayDatabase) {}

  insert(upload: NewUpload, now: string): void {
    this.db.transaction(() => {
      this.db.prepare(`INSERT INTO uploads (id, user_id, study_instance_uid, modality, service_level, clinical_history, source_workstation,
        facility, manifest_hash, state, chunk_bytes, total_bytes, created_at, updated_at, expires_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'receiving', ?, ?, ?, ?, ?)`).run(
        upload.id, upload.userId, upload.studyInstanceUid, upload.modality ?? null, upload.serviceLevel, upload.clinicalHistory ?? null,
        upload.sourceWorkstation ?? null, upload.facility ?? null, upload.manifestHash, upload.chunkBytes, upload.totalBytes, now, now, upload.expiresAt);
      const insertInstance = this.db.prepare(`INSERT INTO upload_instances (upload_id, idx, sop_instance_uid, sop_class_uid, size, sha256, state)
        VALUES (?, ?, ?, ?, ?, ?, ?)`);
      upload.instances.forEach((instance, index) => {
        insertInstance.run(upload.id, index, instance.sopInstanceUid, instance.sopClassUid, instance.size, instance.sha256, instance.state);
      });
    })();
  }

  /** Makes an upload STAT and/or gives it the clinical history it lacked; never the other way. */
  upgrade(id: string, changes: { stat: boolean; clinicalHistory?: string | undefined }, now: string): void {
    this.db.prepare(`UPDATE uploads SET service_level = CASE WHEN ? THEN 'STAT' ELSE service_level END,
        clinical_history = COALESCE(clinical_history, ?), updated_at = ? WHERE id = ?`)
      .run(changes.stat ? 1 : 0, changes.clinicalHistory ?? null, now, id);
  }

  find(id: string): UploadRecord | undefined {
    const row = this.db.prepare('SELECT * FROM uploads WHERE id = ?').get(id) as UploadRow | undefined;
    return row && toUpload(row);
  }

  findResumable(userId: number, studyInstanceUid: string, manifestHash: string): UploadRecord | undefined {
    // An accepted upload counts too: a client that lost the answer to /complete (a dropped
    // connection) finds its upload again instead of starting a second one for the same study.
    const row = this.db.prepare(`SELECT * FROM uploads WHERE user_id = ? AND study_instance_uid = ? AND manifest_hash = ? AND state IN ('receiving', 'accepted')
      ORDER BY created_at DESC LIMIT 1`).get(userId, studyInstanceUid, manifestHash) as UploadRow | undefined;
    return row && toUpload(row);
  }

  countActive(userId: number): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM uploads WHERE user_id = ? AND state = 'receiving'`).get(userId) as { n: number }).n;
  }

  /** Uploads receiving data, across all users. */
  countAllActive(): number {
    return (this.db.prepare(`SELECT COUNT(*) AS n FROM uploads WHERE state = 'receiving'`).get() as { n: number }).n;
  }

  /**
   * Bytes the uploads receiving data have been promised and not sent yet: the sum over their
   * instances still receiving of size less received (instances already delivered are not sent), for
   * uploads that received something (or began) at `activeSince` or later.
   */
  bytesToReceive(activeSince: string): number {
    return (this.db.prepare(`SELECT COALESCE(SUM(i.size - i.received_bytes), 0) AS n FROM upload_instances i JOIN uploads u ON u.id = i.upload_id
      WHERE u.state = 'receiving' AND u.updated_at >= ? AND i.state = 'receiving'`).get(activeSince) as { n: number }).n;
  }

  instances(uploadId: string): InstanceRecord[] {
    return (this.db.prepare('SELECT * FROM upload_instances WHERE upload_id = ? ORDER BY idx').all(uploadId) as InstanceRow[]).map(toInstance);
  }

  instance(uploadId: string, index: number): InstanceRecord | undefined {
    const row = this.db.prepare('SELECT * FROM upload_instances WHERE upload_id = ? AND idx = ?').get(uploadId, index) as InstanceRow | undefined;
    return row && toInstance(row);
  }

  chunks(uploadId: string, index: number): ChunkRecord[] {
    return this.db.prepare('SELECT offset, length, sha256 FROM upload_chunks WHERE upload_id = ? AND idx = ? ORDER BY offset').all(uploadId, index) as ChunkRecord[];
  }

  chunksOf(instances: readonly { uploadId: string; index: number }[]): ChunkRecord[][] {
    return instances.map((i) => this.chunks(i.uploadId, i.index));
  }

  /** In-process, so three reads cost nothing a round trip would: one synchronous call sees one state. */
  chunkTarget(uploadId: string, index: number): ChunkTarget | undefined {
    const upload = this.find(uploadId);
    return upload && { upload, instance: this.instance(uploadId, index), chunks: this.chunks(uploadId, index) };
  }

  /** Ranges per instance for a whole upload, in one query. */
  chunkRangesByInstance(uploadId: string): Map<number, [number, number][]> {
    const rows = this.db.prepare('SELECT idx, offset, length FROM upload_chunks WHERE upload_id = ?').all(uploadId) as { idx: number; offset: number; length: number }[];
    const byInstance = new Map<number, [number, number][]>();
    for (const row of rows) {
      const list = byInstance.get(row.idx) ?? [];
      list.push([row.offset, row.offset + row.length]);
      byInstance.set(row.idx, list);
    }
    return byInstance;
  }

  /**
   * The instance's SHA-256 state after the recorded chunk that ends at `end` (bytes [0, end)), when
   * that chunk carried it: a chunk starting there goes on from it.
   */
  hashStateEndingAt(uploadId: string, index: number, end: number): Uint8Array | undefined {
    const row = this.db.prepare(`SELECT sha256_state FROM upload_chunks WHERE upload_id = ? AND idx = ? AND offset + length = ? AND sha256_state IS NOT NULL`)
      .get(uploadId, index, end) as { sha256_state: Buffer } | undefined;
    return row?.sha256_state;
  }

  /** The furthest SHA-256 state carried by the instance's chunks, with the end of the bytes it covers. */
  furthestHashState(uploadId: string, index: number): { end: number; state: Uint8Array } | undefined {
    const row = this.db.prepare(`SELECT offset + length AS end, sha256_state AS state FROM upload_chunks WHERE upload_id = ? AND idx = ? AND sha256_state IS NOT NULL
      ORDER BY offset + length DESC LIMIT 1`).get(uploadId, index) as { end: number; state: Buffer } | undefined;
    return row;
  }

  /**
   * Forgets carried SHA-256 states: the instance's once it is verified or rejected, every instance's
   * (no index) once the upload is cancelled or expired. A state holds up to 63 bytes of the instance,
   * which the database need not keep after its data is gone.
   */
  forgetHashStates(uploadId: string, index?: number): void {
    if (index === undefined) {
      this.db.prepare('UPDATE upload_chunks SET sha256_state = NULL WHERE upload_id = ? AND sha256_state IS NOT NULL').run(uploadId);
    } else {
      this.db.prepare('UPDATE upload_chunks SET sha256_state = NULL WHERE upload_id = ? AND idx = ? AND sha256_state IS NOT NULL').run(uploadId, index);
    }
  }

  /**
   * Records an acknowledged chunk, with the instance's SHA-256 state after it when it carried one
   * (`sha256State`: bytes [0, offset + length)). Fails (returns false) if the upload stopped
   * receiving meanwhile (cancelled, expired) or the range was recorded by a concurrent request.
   */
  recordChunk(uploadId: string, index: number, chunk: ChunkRecord & { sha256State?: Uint8Array | undefined }, now: string, expiresAt: string): { recorded: boolean; receivedBytes: number } {
    return this.db.transaction(() => {
      const upload = this.db.prepare(`SELECT state FROM uploads WHERE id = ?`).get(uploadId) as { state: string } | undefined;
      if (upload?.state !== 'receiving') return { recorded: false, receivedBytes: 0 };
      const clash = this.db.prepare(`SELECT 1 FROM upload_chunks WHERE upload_id = ? AND idx = ? AND offset < ? AND offset + length > ?`)
        .get(uploadId, index, chunk.offset + chunk.length, chunk.offset);
      if (clash) return { recorded: false, receivedBytes: 0 };
      this.db.prepare('INSERT INTO upload_chunks (upload_id, idx, offset, length, sha256, sha256_state, received_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(uploadId, index, chunk.offset, chunk.length, chunk.sha256, chunk.sha256State ? asBlob(chunk.sha256State) : null, now);
      this.db.prepare('UPDATE upload_instances SET received_bytes = received_bytes + ? WHERE upload_id = ? AND idx = ?').run(chunk.length, uploadId, index);
      this.db.prepare('UPDATE uploads SET updated_at = ?, expires_at = ? WHERE id = ?').run(now, expiresAt, uploadId);
      // The last byte in: the instance moves to 'received' in the same transaction, so a crash
      // right after cannot leave a complete instance looking incomplete.
      this.db.prepare(`UPDATE upload_instances SET state = 'received' WHERE upload_id = ? AND idx = ? AND received_bytes >= size AND state = 'receiving'`).run(uploadId, index);
      const { received_bytes: receivedBytes } = this.db.prepare('SELECT received_bytes FROM upload_instances WHERE upload_id = ? AND idx = ?')
        .get(uploadId, index) as { received_bytes: number };
      return { recorded: true, receivedBytes };
    })();
  }

  setInstanceState(uploadId: string, index: number, state: InstanceState, extra: { transferSyntaxUid?: string; rejectionCode?: string; rejectionReason?: string } = {}): void {
    this.db.prepare(`UPDATE upload_instances SET state = ?, transfer_syntax_uid = COALESCE(?, transfer_syntax_uid), rejection_code = ?, rejection_reason = ?
      WHERE upload_id = ? AND idx = ?`).run(state, extra.transferSyntaxUid ?? null, extra.rejectionCode ?? null, extra.rejectionReason ?? null, uploadId, index);
  }

  setAccessionNumber(uploadId: string, accessionNumber: string): void {
    this.db.prepare('UPDATE uploads SET accession_number = ? WHERE id = ? AND accession_number IS NULL').run(accessionNumber, uploadId);
  }

  setUploadState(uploadId: string, state: UploadState, now: string, fromStates: UploadState[]): boolean {
    if (fromStates.length === 0) return false;
    const placeholders = fromStates.map(() => '?').join(', ');
    const info = this.db.prepare(`UPDATE uploads SET state = ?, updated_at = ?, completed_at = CASE WHEN ? = 'accepted' THEN ? ELSE completed_at END
      WHERE id = ? AND state IN (${placeholders})`).run(state, now, state, now, uploadId, ...fromStates);
    return info.changes === 1;
  }

  /** Instances whose bytes are all held but whose verification did not finish (e.g. a crash). */
  unverifiedInstances(): { uploadId: string; index: number }[] {
    return (this.db.prepare(`SELECT i.upload_id, i.idx FROM upload_instances i JOIN uploads u ON u.id = i.upload_id
      WHERE i.state = 'received' AND u.state IN ('receiving', 'accepted')`).all() as { upload_id: string; idx: number }[])
      .map((r) => ({ uploadId: r.upload_id, index: r.idx }));
  }

  /**
   * Verified instances with no delivery item: the relay died between marking an instance verified
   * and queueing it for delivery (two steps). start() queues them again; queueing is idempotent.
   */
  verifiedWithoutDelivery(): { uploadId: string; index: number }[] {
    return (this.db.prepare(`SELECT i.upload_id, i.idx FROM upload_instances i JOIN uploads u ON u.id = i.upload_id
      WHERE i.state = 'verified' AND u.state IN ('receiving', 'accepted')
        AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN delivery_items di ON di.delivery_id = d.id WHERE d.upload_id = i.upload_id AND di.idx = i.idx)`)
      .all() as { upload_id: string; idx: number }[]).map((r) => ({ uploadId: r.upload_id, index: r.idx }));
  }

  expiredUploadIds(now: string): string[] {
    return (this.db.prepare(`SELECT id FROM uploads WHERE state = 'receiving' AND expires_at < ?`).all(now) as { id: string }[]).map((r) => r.id);
  }

  expire(uploadId: string, now: string): boolean {
    return this.db.prepare(`UPDATE uploads SET state = 'expired', updated_at = ? WHERE id = ? AND state = 'receiving' AND expires_at < ?`)
      .run(now, uploadId, now).changes === 1;
  }

  /** Uploads whose temporary data may go: cancelled or expired. */
  isDisposable(uploadId: string): boolean {
    const row = this.db.prepare('SELECT state FROM uploads WHERE id = ?').get(uploadId) as { state: string } | undefined;
    return row === undefined || row.state === 'cancelled' || row.state === 'expired';
  }

  alreadyDelivered(instances: readonly Pick<ManifestInstance, 'sopInstanceUid' | 'sha256'>[]): Set<string> {
    const lookup = this.db.prepare('SELECT 1 FROM delivered_instances WHERE sop_instance_uid = ? AND sha256 = ?');
    return new Set(instances.filter((i) => lookup.get(i.sopInstanceUid, i.sha256) !== undefined).map((i) => i.sopInstanceUid));
  }

  routingFacts(uploadId: string, index: number): RoutingFacts | undefined {
    return this.db.prepare(`SELECT u.user_id AS userId, us.username, u.modality, u.service_level AS serviceLevel,
        u.source_workstation AS sourceWorkstation, u.facility, i.sop_class_uid AS sopClassUid
      FROM uploads u JOIN users us ON us.id = u.user_id JOIN upload_instances i ON i.upload_id = u.id
      WHERE u.id = ? AND i.idx = ?`).get(uploadId, index) as RoutingFacts | undefined;
  }
}

/** better-sqlite3 binds a Buffer as a BLOB (hash-wasm saves its state as a plain Uint8Array). */
function asBlob(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
