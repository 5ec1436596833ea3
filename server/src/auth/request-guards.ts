import type { FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../http/relay-error.js';
import type { Role } from './roles.js';
import type { TokenService, UploadPrincipal, VerifiedAccess } from './token-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: VerifiedAccess;
    uploadPrincipal?: UploadPrincipal;
  }
}

/**
 * A guard runs as the route's `onRequest` hook: before Fastify reads, parses or validates the body,
 * so a request without a valid token is answered 401 having cost the relay nothing but its header
 * (and its body is never parsed: http/refused-body.ts closes the connection).
 */
export type RouteGuard = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface RequestGuards {
  /** A valid access token of an active session whose role is one of `roles` (any role when empty). */
  requireUser(roles?: readonly Role[]): RouteGuard;
  /** A valid upload token for the upload in the route's `:id`, of a session still active. */
  requireUploadToken(): RouteGuard;
}

export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw new RelayError(401, 'AUTH_REQUIRED', undefined, {}, { 'www-authenticate': 'Bearer' });
  return match[1];
}

export function sessionEnded(): RelayError {
  return new RelayError(401, 'AUTH_TOKEN_INVALID', 'the session was ended or revoked', {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
}

/**
 * The relay's authorization checks, in one place. `sessionIsActive` lets a logout, a revoked
 * refresh-token family, a password change or a disabled account end every token of the session
 * before it expires: access tokens and upload tokens alike (RFC 8725 §3.10: a token is only as good
 * as the session behind it). An upload the relay already accepted is delivered all the same: that
 * needs no token.
 */
export function createRequestGuards(tokens: TokenService, sessionIsActive: (sessionId: string, userId: number) => Promise<boolean>): RequestGuards {
  return {
    requireUser(roles = []) {
      return async (request) => {
        const principal = await tokens.verifyAccessToken(bearerToken(request));
        if (!(await sessionIsActive(principal.sessionId, principal.userId))) throw sessionEnded();
        if (roles.length > 0 && !roles.includes(principal.role)) throw new RelayError(403, 'AUTH_FORBIDDEN');
        request.principal = principal;
      };
    },
    requireUploadToken() {
      return async (request) => {
        const id = uploadIdOf(request.params);
        if (!id) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
        const principal = await tokens.verifyUploadToken(bearerToken(request), id);
        if (!(await sessionIsActive(principal.sessionId, principal.userId))) throw sessionEnded();
        request.uploadPrincipal = principal;
      };
    },
  };
}

/**
 * The upload id of the route's `:id`. onRequest runs before Fastify validates the request against
 * its schema, so the params are checked here rather than assumed.
 */
function uploadIdOf(params: unknown): string | undefined {
  if (typeof params !== 'object' || params === null || !('id' in params)) return undefined;
  return typeof params.id === 'string' && params.id !== '' ? params.id : undefined;
}
