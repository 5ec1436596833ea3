import { Type, type Static } from 'typebox';
import { DeliveryFailureCodeWire } from './delivery-failure-codes.js';

/**
 * The upload protocol's wire contract (the desktop imports these types). Sizes and offsets are
 * integers that may exceed 2^32 (instances over 4 GB); they stay below 2^53.
 */
const Uid = Type.String({ minLength: 1, maxLength: 64, pattern: '^[0-9]+(\\.[0-9]+)*$' });
const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });

export const ServiceLevel = Type.Union([Type.Literal('STAT'), Type.Literal('ROUTINE')]);
export type ServiceLevel = Static<typeof ServiceLevel>;

export const ManifestInstance = Type.Object({
  sopInstanceUid: Uid,
  sopClassUid: Uid,
  size: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
  sha256: Sha256Hex,
}, { additionalProperties: false });
export type ManifestInstance = Static<typeof ManifestInstance>;

/** POST /upload/init */
export const InitUploadRequest = Type.Object({
  study: Type.Object({
    studyInstanceUid: Uid,
    modality: Type.Optional(Type.String({ maxLength: 16 })),
    serviceLevel: ServiceLevel,
    clinicalHistory: Type.Optional(Type.String({ maxLength: 10_000 })),
    sourceWorkstation: Type.Optional(Type.String({ maxLength: 128 })),
    /** Site or department the study comes from, for routing (e.g. "east-wing"). */
    facility: Type.Optional(Type.String({ maxLength: 128 })),
  }, { additionalProperties: false }),
  instances: Type.Array(ManifestInstance, { minItems: 1 }),
}, { additionalProperties: false });
export type InitUploadRequest = Static<typeof InitUploadRequest>;

export const ByteRangeWire = Type.Tuple([Type.Integer(), Type.Integer()]);

export const InstanceState = Type.Union([
  Type.Literal('receiving'), // bytes still missing
  Type.Literal('received'), // every byte held, being verified
  Type.Literal('verified'), // SHA-256 and DICOM validation passed
  Type.Literal('rejected'), // failed verification: see rejection
  Type.Literal('already-delivered'), // a PACS already holds these exact bytes; nothing to send
]);
export type InstanceState = Static<typeof InstanceState>;

export const InstanceStatus = Type.Object({
  index: Type.Integer(),
  sopInstanceUid: Type.String(),
  size: Type.Integer(),
  receivedBytes: Type.Integer(),
  /** Bytes held from offset 0 without a gap: the resume offset for in-order senders. */
  contiguousBytes: Type.Integer(),
  missing: Type.Array(ByteRangeWire),
  state: InstanceState,
  transferSyntaxUid: Type.Optional(Type.String()),
  rejection: Type.Optional(Type.Object({ code: Type.String(), reason: Type.String() })),
  /** pending (not verified yet), unrouted, queued, sending, delivered, confirmed, failed, not-sent (rejected). */
  deliveryState: Type.String(),
  destinations: Type.Array(Type.Object({
    name: Type.String(),
    /** queued, sending, delivered, confirmed, failed */
    state: Type.String(),
    attempts: Type.Integer(),
    /** Why the last attempt failed, or why it failed for good. */
    reason: Type.Optional(Type.String()),
    /** When it failed for good: the code (protocol/delivery-failure-codes.ts), as stored and counted in metrics. */
    code: Type.Optional(DeliveryFailureCodeWire),
    /** A PACS warning on a stored instance (e.g. attributes coerced). */
    warning: Type.Optional(Type.String()),
  })),
});
export type InstanceStatus = Static<typeof InstanceStatus>;

export const UploadState = Type.Union([
  Type.Literal('receiving'), Type.Literal('accepted'), Type.Literal('cancelled'), Type.Literal('expired'),
]);
export type UploadState = Static<typeof UploadState>;

export const UploadStatus = Type.Object({
  uploadId: Type.String(),
  state: UploadState,
  serviceLevel: ServiceLevel,
  expiresAt: Type.String(),
  totalBytes: Type.Integer(),
  receivedBytes: Type.Integer(),
  /** Per destination: forwarding, delivered, confirmed or failed, with counts of instances. */
  deliveries: Type.Array(Type.Object({
    destination: Type.String(),
    state: Type.String(),
    total: Type.Integer(),
    delivered: Type.Integer(),
    confirmed: Type.Integer(),
    failed: Type.Integer(),
  })),
  instances: Type.Array(InstanceStatus),
});
export type UploadStatus = Static<typeof UploadStatus>;

export const InitUploadResponse = Type.Object({
  uploadId: Type.String(),
  /** Bearer token for this upload's chunk, status, complete and cancel requests, and no other. */
  uploadToken: Type.String(),
  uploadTokenExpiresAt: Type.String(),
  /** True when an unfinished upload of the same study and manifest was found and continues. */
  resumed: Type.Boolean(),
  chunk: Type.Object({ minBytes: Type.Integer(), maxBytes: Type.Integer(), preferredBytes: Type.Integer() }),
  /** SOP Instance UIDs a PACS already holds with the same SHA-256: do not send them. */
  alreadyDelivered: Type.Array(Type.String()),
  status: UploadStatus,
});
export type InitUploadResponse = Static<typeof InitUploadResponse>;

/**
 * A non-negative integer in a query string: decimal digits, no sign, no leading zero. It stays a
 * string in the schema because Ajv's type coercion reads whatever Number() reads ("0x10" is 16,
 * "1e3" is 1000, " 7" is 7): an offset must mean exactly one thing. parseQueryInteger converts it.
 */
const DECIMAL_INTEGER = '^(0|[1-9][0-9]{0,15})$';
export const QueryInteger = Type.String({ pattern: DECIMAL_INTEGER });

/** The number a QueryInteger names, or undefined past Number.MAX_SAFE_INTEGER. */
export function parseQueryInteger(text: string): number | undefined {
  const value = Number(text);
  return new RegExp(DECIMAL_INTEGER).test(text) && Number.isSafeInteger(value) ? value : undefined;
}

/** PUT /upload/{id}/chunk?instance=INDEX&offset=N; body: the bytes; header Content-Digest: sha-256=:BASE64: (RFC 9530). */
export const ChunkQueryWire = Type.Object({ instance: QueryInteger, offset: QueryInteger }, { additionalProperties: false });
export interface ChunkQuery {
  instance: number;
  offset: number;
}

/** HEAD /upload/{id}/status?instance=INDEX */
export const StatusQueryWire = Type.Object({ instance: Type.Optional(QueryInteger) }, { additionalProperties: false });

export const ChunkResponse = Type.Object({
  instance: Type.Integer(),
  offset: Type.Integer(),
  length: Type.Integer(),
  /** True when these exact bytes were already held (a retry): nothing was written. */
  duplicate: Type.Boolean(),
  receivedBytes: Type.Integer(),
  contiguousBytes: Type.Integer(),
  instanceComplete: Type.Boolean(),
});
export type ChunkResponse = Static<typeof ChunkResponse>;

/** POST /upload/{id}/retry and /admin/uploads/{id}/retry: how many failed instance deliveries were queued again. */
export const RetryResponse = Type.Object({ requeued: Type.Integer({ minimum: 0 }) });
export type RetryResponse = Static<typeof RetryResponse>;

export const UploadIdParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }) });
