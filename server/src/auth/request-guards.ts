import type { FastifyReply, FastifyRequest } from 'fastify';
import { RelayError } from '../http/relay-error.js';
import type { Role } from './roles.js';
import type { AccessPrincipal, TokenService, UploadPrincipal } from './token-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: AccessPrincipal;
    uploadPrincipal?: UploadPrincipal;
  }
}

export type PreHandler = (request: FastifyRequest, reply: FastifyReply) => Promise<void>;

export interface RequestGuards {
  /** A valid access token of an active session whose role is one of `roles` (any role when empty). */
  requireUser(roles?: readonly Role[]): PreHandler;
  /** A valid upload token for the upload in the route's `:id`. */
  requireUploadToken(): PreHandler;
}

export function bearerToken(request: FastifyRequest): string {
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match?.[1]) throw new RelayError(401, 'AUTH_REQUIRED', undefined, {}, { 'www-authenticate': 'Bearer' });
  return match[1];
}

/**
 * The relay's authorization checks, in one place. `sessionIsActive` lets a logout or a revoked
 * refresh-token family end access tokens before they expire, and a disabled user lose access.
 */
export function createRequestGuards(tokens: TokenService, sessionIsActive: (sessionId: string, userId: number) => boolean): RequestGuards {
  return {
    requireUser(roles = []) {
      return async (request) => {
        const principal = await tokens.verifyAccessToken(bearerToken(request));
        if (!sessionIsActive(principal.sessionId, principal.userId)) {
          throw new RelayError(401, 'AUTH_TOKEN_INVALID', 'the session was ended or revoked', {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
        }
        if (roles.length > 0 && !roles.includes(principal.role)) throw new RelayError(403, 'AUTH_FORBIDDEN');
        request.principal = principal;
      };
    },
    requireUploadToken() {
      return async (request) => {
        const { id } = request.params as { id?: string };
        if (!id) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
        request.uploadPrincipal = await tokens.verifyUploadToken(bearerToken(request), id);
      };
    },
  };
}
