import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { ERROR_RESPONSES, NoBody } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import { LoginRequest, RefreshRequest, TokenResponse } from '../protocol/auth-protocol.js';
import type { RelayServices } from '../relay-services.js';
import { AuthService } from './auth-service.js';
import { LoginRateLimiter } from './login-rate-limiter.js';
import { RefreshTokenService } from './refresh-token-service.js';

/** Builds the sign-in machinery from the relay's services; its state is all in the store. */
export function createAuthService(services: RelayServices): AuthService {
  const { config, store, audit, tokens, metrics, now } = services;
  return new AuthService({
    config: config.auth,
    users: store.users,
    sessions: store.sessions,
    tokens,
    metrics,
    now,
    refreshTokens: new RefreshTokenService(store, now, config.auth.refreshReuseGraceSeconds * 1000),
    audit,
    limiter: new LoginRateLimiter({
      store,
      maxFailuresPerUser: config.auth.maxFailuresPerUser,
      maxAttemptsPerAddress: config.auth.maxAttemptsPerAddress,
      windowSeconds: config.auth.rateLimitWindowSeconds,
      now,
    }),
  });
}

/**
 * POST /auth/login, /auth/refresh, /auth/logout. Tokens travel in JSON bodies, never in URLs, and
 * every answer carries Cache-Control: no-store (security headers; RFC 6749 §5.1).
 */
const registerAuthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const auth = createAuthService(app.services);

  app.post('/auth/login', {
    schema: { body: LoginRequest, response: { 200: TokenResponse, ...ERROR_RESPONSES } },
  }, async (request) => auth.login(request.body, request.ip));

  app.post('/auth/refresh', {
    schema: { body: RefreshRequest, response: { 200: TokenResponse, ...ERROR_RESPONSES } },
  }, async (request) => auth.refresh(request.body.refreshToken, request.ip));

  app.post('/auth/logout', {
    schema: { body: RefreshRequest, response: { 204: NoBody, ...ERROR_RESPONSES } },
  }, async (request, reply) => {
    await auth.logout(request.body.refreshToken, request.ip);
    return reply.status(204).send();
  });
};

export const authRoutes = fp(registerAuthRoutes, { name: 'auth-routes', dependencies: [RELAY_SERVICES_PLUGIN] });
