import type { InstanceState, ServiceLevel, UploadState } from '../protocol/upload-protocol.js';
import type { InstanceRecord, UploadRecord } from './uploads-store.js';

/**
 * The uploads and upload_instances tables' rows as both SQL backends (store/sqlite, store/postgres)
 * read them, and their records: one schema's column names, mapped once.
 */

export interface UploadRow {
  id: string; user_id: number; study_instance_uid: string; modality: string | null; service_level: ServiceLevel;
  clinical_history: string | null; source_workstation: string | null; manifest_hash: string; state: UploadState;
  chunk_bytes: number; total_bytes: number; created_at: string; updated_at: string; expires_at: string; completed_at: string | null;
  accession_number: string | null;
}
export interface InstanceRow {
  upload_id: string; idx: number; sop_instance_uid: string; sop_class_uid: string; size: number; sha256: string;
  received_bytes: number; state: InstanceState; transfer_syntax_uid: string | null; rejection_code: string | null;
  rejection_reason: string | null;
}

export const toUpload = (r: UploadRow): UploadRecord => ({
  id: r.id, userId: r.user_id, studyInstanceUid: r.study_instance_uid, modality: r.modality, serviceLevel: r.service_level,
  clinicalHistory: r.clinical_history, sourceWorkstation: r.source_workstation, manifestHash: r.manifest_hash, state: r.state,
  chunkBytes: r.chunk_bytes, totalBytes: r.total_bytes, createdAt: r.created_at, updatedAt: r.updated_at,
  expiresAt: r.expires_at, completedAt: r.completed_at, accessionNumber: r.accession_number ?? null,
});
export const toInstance = (r: InstanceRow): InstanceRecord => ({
  uploadId: r.upload_id, index: r.idx, sopInstanceUid: r.sop_instance_uid, sopClassUid: r.sop_class_uid, size: r.size,
  sha256: r.sha256, receivedBytes: r.received_bytes, state: r.state, transferSyntaxUid: r.transfer_syntax_uid,
  rejectionCode: r.rejection_code, rejectionReason: r.rejection_reason,
});
