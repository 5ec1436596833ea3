import { Type, type Static } from 'typebox';
import { RELAY_ERROR_CODES, type RelayErrorCode } from './error-codes.js';

/** A wire error code: one of RELAY_ERROR_CODES and no other. */
export const RelayErrorCodeWire = Type.Unsafe<RelayErrorCode>(Type.String({ enum: Object.keys(RELAY_ERROR_CODES) }));

const Offset = Type.Integer({ minimum: 0 });

/**
 * The body of every answer that is not 2xx: {"error": {"code", "message", ...details}}
 * (docs/protocol/upload.md). The details a code carries are listed, so that the serializer, which
 * writes only what a response schema names, keeps them; any other detail is kept as well
 * (additionalProperties), never dropped.
 */
export const ErrorResponse = Type.Object({
  error: Type.Object({
    code: RelayErrorCodeWire,
    message: Type.String(),
    /** INTERNAL: the id the relay logged the failure under. */
    requestId: Type.Optional(Type.String()),
    /** AUTH_RATE_LIMITED, STORAGE_FULL: when to try again (as the Retry-After header, RFC 9110 §10.2.3). */
    retryAfterSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
    /** UPLOAD_OFFSET_MISMATCH: what the relay holds of the instance, to resume from. */
    instance: Type.Optional(Type.Integer({ minimum: 0 })),
    receivedBytes: Type.Optional(Offset),
    contiguousBytes: Type.Optional(Offset),
    missing: Type.Optional(Type.Array(Type.Tuple([Offset, Offset]))),
    /** UPLOAD_INCOMPLETE: the instances still missing bytes (the first 100). */
    incomplete: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), missing: Type.Array(Type.Tuple([Offset, Offset])) }))),
    /** UPLOAD_TOO_LARGE: which limit (its value rides under the limit's own name). */
    limit: Type.Optional(Type.String()),
  }, { additionalProperties: true }),
});
export type ErrorResponse = Static<typeof ErrorResponse>;
