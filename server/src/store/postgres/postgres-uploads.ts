import type { InstanceState, ManifestInstance, UploadState } from '../../protocol/upload-protocol.js';
import { toInstance, toUpload, type InstanceRow, type UploadRow } from '../upload-rows.js';
import type { ChunkRecord, ChunkTarget, InstanceRecord, NewUpload, RoutingFacts, UploadRecord, UploadsStore } from '../uploads-store.js';
import type { Db } from './postgres-db.js';

const toKey = (r: { upload_id: string; idx: number }) => ({ uploadId: r.upload_id, index: r.idx });

const UPLOAD_COLUMNS = `id, user_id, study_instance_uid, modality, service_level, clinical_history, source_workstation, manifest_hash,
  state, chunk_bytes, total_bytes, created_at, updated_at, expires_at, completed_at, accession_number`;
const INSTANCE_COLUMNS = `upload_id, idx, sop_instance_uid, sop_class_uid, size, sha256, received_bytes, state, transfer_syntax_uid,
  rejection_code, rejection_reason`;

/**
 * UploadsStore's SQL. Each call is atomic on its own: a single statement (recordChunk's calls a
 * function of several, migration 5), in a savepoint inside a unit of work where it may fail.
 */
export class PostgresUploads implements UploadsStore {
  constructor(private readonly db: Db) {}

  async insert(upload: NewUpload, now: string): Promise<void> {
    // One statement: the upload row in a CTE and every instance from arrays, so the manifest is
    // written whole or not at all (a duplicate SOP Instance UID fails the statement) in one round
    // trip. A step: inside a unit of work its failure leaves the work usable, as in SQLite.
    const { instances } = upload;
    await this.db.step(`WITH upload AS (
        INSERT INTO uploads (id, user_id, study_instance_uid, modality, service_level, clinical_history, source_workstation,
          facility, manifest_hash, state, chunk_bytes, total_bytes, created_at, updated_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'receiving', $10, $11, $12, $12, $13) RETURNING id)
      INSERT INTO upload_instances (upload_id, idx, sop_instance_uid, sop_class_uid, size, sha256, state)
        SELECT upload.id, t.ord - 1, t.sop_instance_uid, t.sop_class_uid, t.size, t.sha256, t.state
        FROM upload, unnest($14::text[], $15::text[], $16::bigint[], $17::text[], $18::text[])
          WITH ORDINALITY AS t(sop_instance_uid, sop_class_uid, size, sha256, state, ord)`, [
      upload.id, upload.userId, upload.studyInstanceUid, upload.modality ?? null, upload.serviceLevel, upload.clinicalHistory ?? null,
      upload.sourceWorkstation ?? null, upload.facility ?? null, upload.manifestHash, upload.chunkBytes, upload.totalBytes, now, upload.expiresAt,
      instances.map((i) => i.sopInstanceUid), instances.map((i) => i.sopClassUid), instances.map((i) => i.size),
      instances.map((i) => i.sha256), instances.map((i) => i.state),
    ]);
  }

  async upgrade(id: string, changes: { stat: boolean; clinicalHistory?: string | undefined }, now: string): Promise<void> {
    await this.db.query(`UPDATE uploads SET service_level = CASE WHEN $1::boolean THEN 'STAT' ELSE service_level END,
        clinical_history = COALESCE(clinical_history, $2::text), updated_at = $3 WHERE id = $4`,
    [changes.stat, changes.clinicalHistory ?? null, now, id]);
  }

  async find(id: string): Promise<UploadRecord | undefined> {
    const { rows } = await this.db.query<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM uploads WHERE id = $1`, [id]);
    return rows[0] && toUpload(rows[0]);
  }

  async findResumable(userId: number, studyInstanceUid: string, manifestHash: string): Promise<UploadRecord | undefined> {
    // An accepted upload counts too: a client that lost the answer to /complete finds it again.
    const { rows } = await this.db.query<UploadRow>(`SELECT ${UPLOAD_COLUMNS} FROM uploads
      WHERE user_id = $1 AND study_instance_uid = $2 AND manifest_hash = $3 AND state IN ('receiving', 'accepted')
      ORDER BY created_at DESC LIMIT 1`, [userId, studyInstanceUid, manifestHash]);
    return rows[0] && toUpload(rows[0]);
  }

  async countActive(userId: number): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*) AS n FROM uploads WHERE user_id = $1 AND state = 'receiving'`, [userId]);
    return rows[0]!.n;
  }

  async countAllActive(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*) AS n FROM uploads WHERE state = 'receiving'`);
    return rows[0]!.n;
  }

  async bytesToReceive(activeSince: string): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT COALESCE(sum(i.size - i.received_bytes), 0)::bigint AS n
      FROM upload_instances i JOIN uploads u ON u.id = i.upload_id
      WHERE u.state = 'receiving' AND u.updated_at >= $1 AND i.state = 'receiving'`, [activeSince]);
    return rows[0]!.n;
  }

  async instances(uploadId: string): Promise<InstanceRecord[]> {
    const { rows } = await this.db.query<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM upload_instances WHERE upload_id = $1 ORDER BY idx`, [uploadId]);
    return rows.map(toInstance);
  }

  async instance(uploadId: string, index: number): Promise<InstanceRecord | undefined> {
    const { rows } = await this.db.query<InstanceRow>(`SELECT ${INSTANCE_COLUMNS} FROM upload_instances WHERE upload_id = $1 AND idx = $2`, [uploadId, index]);
    return rows[0] && toInstance(rows[0]);
  }

  async chunks(uploadId: string, index: number): Promise<ChunkRecord[]> {
    const { rows } = await this.db.query<ChunkRecord>(
      'SELECT byte_offset AS "offset", length, sha256 FROM upload_chunks WHERE upload_id = $1 AND idx = $2 ORDER BY byte_offset', [uploadId, index]);
    return rows;
  }

  async chunksOf(instances: readonly { uploadId: string; index: number }[]): Promise<ChunkRecord[][]> {
    if (instances.length === 0) return [];
    const { rows } = await this.db.query<ChunkRecord & { ord: number }>(`SELECT k.ord, c.byte_offset AS "offset", c.length, c.sha256
      FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS k(upload_id, idx, ord)
      JOIN upload_chunks c ON c.upload_id = k.upload_id AND c.idx = k.idx ORDER BY k.ord, c.byte_offset`,
    [instances.map((i) => i.uploadId), instances.map((i) => i.index)]);
    const chunks: ChunkRecord[][] = instances.map(() => []);
    for (const { ord, ...chunk } of rows) chunks[ord - 1]!.push(chunk);
    return chunks;
  }

  async chunkTarget(uploadId: string, index: number): Promise<ChunkTarget | undefined> {
    // One round trip for the three reads of every chunk request; the instance and chunks as JSON
    // (bigint sizes and offsets as JSON numbers: below 2^53, as everywhere in the relay).
    const { rows: [row] } = await this.db.query<UploadRow & { instance: InstanceRow | null; chunks: ChunkRecord[] | null }>(`SELECT ${UPLOAD_COLUMNS},
        (SELECT row_to_json(i) FROM (SELECT ${INSTANCE_COLUMNS} FROM upload_instances WHERE upload_id = $1 AND idx = $2) i) AS instance,
        (SELECT json_agg(json_build_object('offset', c.byte_offset, 'length', c.length, 'sha256', c.sha256) ORDER BY c.byte_offset)
          FROM upload_chunks c WHERE c.upload_id = $1 AND c.idx = $2) AS chunks
      FROM uploads WHERE id = $1`, [uploadId, index]);
    if (!row) return undefined;
    return { upload: toUpload(row), instance: row.instance ? toInstance(row.instance) : undefined, chunks: row.chunks ?? [] };
  }

  async chunkRangesByInstance(uploadId: string): Promise<Map<number, [number, number][]>> {
    const { rows } = await this.db.query<{ idx: number; byte_offset: number; length: number }>(
      'SELECT idx, byte_offset, length FROM upload_chunks WHERE upload_id = $1', [uploadId]);
    const byInstance = new Map<number, [number, number][]>();
    for (const row of rows) {
      const list = byInstance.get(row.idx) ?? [];
      list.push([row.byte_offset, row.byte_offset + row.length]);
      byInstance.set(row.idx, list);
    }
    return byInstance;
  }

  async hashStateEndingAt(uploadId: string, index: number, end: number): Promise<Uint8Array | undefined> {
    const { rows } = await this.db.query<{ sha256_state: Buffer }>(`SELECT sha256_state FROM upload_chunks
      WHERE upload_id = $1 AND idx = $2 AND byte_offset + length = $3 AND sha256_state IS NOT NULL`, [uploadId, index, end]);
    return rows[0] && fromBytea(rows[0].sha256_state);
  }

  async furthestHashState(uploadId: string, index: number): Promise<{ end: number; state: Uint8Array } | undefined> {
    const { rows } = await this.db.query<{ end: number; state: Buffer }>(`SELECT byte_offset + length AS "end", sha256_state AS state FROM upload_chunks
      WHERE upload_id = $1 AND idx = $2 AND sha256_state IS NOT NULL ORDER BY byte_offset + length DESC LIMIT 1`, [uploadId, index]);
    return rows[0] && { end: rows[0].end, state: fromBytea(rows[0].state) };
  }

  async forgetHashStates(uploadId: string, index?: number): Promise<void> {
    if (index === undefined) {
      await this.db.query('UPDATE upload_chunks SET sha256_state = NULL WHERE upload_id = $1 AND sha256_state IS NOT NULL', [uploadId]);
    } else {
      await this.db.query('UPDATE upload_chunks SET sha256_state = NULL WHERE upload_id = $1 AND idx = $2 AND sha256_state IS NOT NULL', [uploadId, index]);
    }
  }

  async recordChunk(uploadId: string, index: number, chunk: ChunkRecord & { sha256State?: Uint8Array | undefined }, now: string, expiresAt: string):
    Promise<{ recorded: boolean; receivedBytes: number }> {
    // One round trip: the lock, the overlap check and the writes are relaypacs_record_chunk's
    // statements (migration 5 says why a function). A step: inside a unit of work, a savepoint.
    const { rows: [row] } = await this.db.step<{ received: number | null }>('SELECT relaypacs_record_chunk($1, $2, $3, $4, $5, $6, $7, $8) AS received',
      [uploadId, index, chunk.offset, chunk.length, chunk.sha256, chunk.sha256State ? toBytea(chunk.sha256State) : null, now, expiresAt]);
    if (row?.received == null) return { recorded: false, receivedBytes: 0 };
    return { recorded: true, receivedBytes: row.received };
  }

  async setInstanceState(uploadId: string, index: number, state: InstanceState,
    extra: { transferSyntaxUid?: string; rejectionCode?: string; rejectionReason?: string } = {}): Promise<void> {
    await this.db.query(`UPDATE upload_instances SET state = $1, transfer_syntax_uid = COALESCE($2::text, transfer_syntax_uid),
        rejection_code = $3, rejection_reason = $4 WHERE upload_id = $5 AND idx = $6`,
    [state, extra.transferSyntaxUid ?? null, extra.rejectionCode ?? null, extra.rejectionReason ?? null, uploadId, index]);
  }

  async setAccessionNumber(uploadId: string, accessionNumber: string): Promise<void> {
    await this.db.query('UPDATE uploads SET accession_number = $1 WHERE id = $2 AND accession_number IS NULL', [accessionNumber, uploadId]);
  }

  async setUploadState(uploadId: string, state: UploadState, now: string, fromStates: UploadState[]): Promise<boolean> {
    if (fromStates.length === 0) return false;
    const { rowCount } = await this.db.query(`UPDATE uploads SET state = $1::text, updated_at = $2,
        completed_at = CASE WHEN $1::text = 'accepted' THEN $2::timestamptz ELSE completed_at END
      WHERE id = $3 AND state = ANY($4::text[])`, [state, now, uploadId, fromStates]);
    return rowCount === 1;
  }

  async unverifiedInstances(): Promise<{ uploadId: string; index: number }[]> {
    const { rows } = await this.db.query<{ upload_id: string; idx: number }>(`SELECT i.upload_id, i.idx FROM upload_instances i JOIN uploads u ON u.id = i.upload_id
      WHERE i.state = 'received' AND u.state IN ('receiving', 'accepted')`);
    return rows.map(toKey);
  }

  async verifiedWithoutDelivery(): Promise<{ uploadId: string; index: number }[]> {
    const { rows } = await this.db.query<{ upload_id: string; idx: number }>(`SELECT i.upload_id, i.idx FROM upload_instances i JOIN uploads u ON u.id = i.upload_id
      WHERE i.state = 'verified' AND u.state IN ('receiving', 'accepted')
        AND NOT EXISTS (SELECT 1 FROM deliveries d JOIN delivery_items di ON di.delivery_id = d.id WHERE d.upload_id = i.upload_id AND di.idx = i.idx)`);
    return rows.map(toKey);
  }

  async expiredUploadIds(now: string): Promise<string[]> {
    const { rows } = await this.db.query<{ id: string }>(`SELECT id FROM uploads WHERE state = 'receiving' AND expires_at < $1`, [now]);
    return rows.map((r) => r.id);
  }

  async expire(uploadId: string, now: string): Promise<boolean> {
    const { rowCount } = await this.db.query(`UPDATE uploads SET state = 'expired', updated_at = $1 WHERE id = $2 AND state = 'receiving' AND expires_at < $1`, [now, uploadId]);
    return rowCount === 1;
  }

  async isDisposable(uploadId: string): Promise<boolean> {
    const { rows } = await this.db.query<{ state: string }>('SELECT state FROM uploads WHERE id = $1', [uploadId]);
    const row = rows[0];
    return row === undefined || row.state === 'cancelled' || row.state === 'expired';
  }

  async alreadyDelivered(instances: readonly Pick<ManifestInstance, 'sopInstanceUid' | 'sha256'>[]): Promise<Set<string>> {
    const { rows } = await this.db.query<{ sop_instance_uid: string }>(`SELECT d.sop_instance_uid FROM delivered_instances d
      JOIN unnest($1::text[], $2::text[]) AS t(sop_instance_uid, sha256) ON d.sop_instance_uid = t.sop_instance_uid AND d.sha256 = t.sha256`,
    [instances.map((i) => i.sopInstanceUid), instances.map((i) => i.sha256)]);
    return new Set(rows.map((r) => r.sop_instance_uid));
  }

  async routingFacts(uploadId: string, index: number): Promise<RoutingFacts | undefined> {
    const { rows } = await this.db.query<RoutingFacts>(`SELECT u.user_id AS "userId", us.username, u.modality, u.service_level AS "serviceLevel",
        u.source_workstation AS "sourceWorkstation", u.facility, i.sop_class_uid AS "sopClassUid"
      FROM uploads u JOIN users us ON us.id = u.user_id JOIN upload_instances i ON i.upload_id = u.id
      WHERE u.id = $1 AND i.idx = $2`, [uploadId, index]);
    return rows[0];
  }
}

/** pg binds a Buffer as bytea; hash-wasm saves its state as a plain Uint8Array, maybe a view into a larger buffer. */
function toBytea(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Exactly the stored bytes, as a plain Uint8Array of their own (not a Buffer that may share a pool). */
function fromBytea(value: Buffer): Uint8Array {
  return new Uint8Array(value);
}
