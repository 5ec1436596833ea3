import { Type } from 'typebox';
import { ErrorResponse } from '../protocol/error-response.js';

/**
 * What every route answers when it fails: the one error body, for any 4xx and 5xx status (RFC 9110
 * §15.5, §15.6). Routes list their 2xx answers beside it; Fastify serializes each answer by the
 * schema of its status, so an answer with no schema cannot slip through (test/http/route-schemas.test.ts).
 */
export const ERROR_RESPONSES = { '4xx': ErrorResponse, '5xx': ErrorResponse } as const;

/**
 * A 204 No Content or a HEAD answer: no body at all (RFC 9110 §15.3.5, §9.3.2). Handlers send
 * nothing (reply.send()), which Fastify writes without serializing; typed so, the compiler refuses
 * a body there.
 */
export const NoBody = Type.Unsafe<undefined>(Type.Null({ description: 'no body' }));
