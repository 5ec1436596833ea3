import type { RelayConfig } from '../config/relay-config.js';
import { RelayError } from '../http/relay-error.js';
import type { RelayMetrics } from '../ops/relay-metrics.js';
import type { LoginRequest, TokenResponse } from '../protocol/auth-protocol.js';
import type { SessionsStore, UserRecord, UsersStore } from '../store/accounts-store.js';
import type { AuditStore } from '../store/audit-store.js';
import type { LoginRateLimiter } from './login-rate-limiter.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';
import type { RefreshTokenService, RotationFailure } from './refresh-token-service.js';
import type { TokenService } from './token-service.js';
import { verifyTotp } from './totp.js';

export interface AuthServiceDeps {
  config: RelayConfig['auth'];
  users: UsersStore;
  sessions: SessionsStore;
  tokens: TokenService;
  refreshTokens: RefreshTokenService;
  limiter: LoginRateLimiter;
  audit: AuditStore;
  metrics: RelayMetrics;
  now: () => Date;
}

/** Values of the `outcome` label of relaypacs_logins_total. */
type LoginMetricOutcome = 'success' | 'failure' | 'rate_limited' | 'totp_required';

const REFRESH_FAILURE_MESSAGES: Record<RotationFailure | 'user-disabled', string> = {
  unknown: 'The refresh token is not valid; sign in again.',
  reused: 'This refresh token was already used, so the session has been ended for safety; sign in again.',
  revoked: 'The session was ended; sign in again.',
  expired: 'The session has expired; sign in again.',
  'user-disabled': 'The session was ended; sign in again.',
};

/**
 * Sign-in, refresh and sign-out, apart from HTTP. Every refusal of a login looks the same to the
 * client (AUTH_INVALID_CREDENTIALS) whether the name is unknown, the account disabled, the password
 * or the code wrong; only the audit log tells them apart.
 */
export class AuthService {
  constructor(private readonly deps: AuthServiceDeps) {}

  async login(request: LoginRequest, address: string): Promise<TokenResponse> {
    const { users, limiter, audit } = this.deps;
    const decision = await limiter.admit(request.username, address);
    if (!decision.allowed) {
      this.count('rate_limited');
      await audit.record({ action: 'login', outcome: `rate-limited-${decision.scope}`, actorUserId: (await users.findByUsername(request.username))?.id, address });
      throw new RelayError(429, 'AUTH_RATE_LIMITED', undefined, { retryAfterSeconds: decision.retryAfterSeconds }, { 'retry-after': String(decision.retryAfterSeconds) });
    }
    const user = await users.findByUsername(request.username);
    // Argon2 runs for unknown names too, against a dummy hash, so timing does not reveal which exist.
    const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), request.password);
    if (!user || !passwordOk) return this.refuseLogin(user, user ? 'wrong-password' : 'unknown-user', address);
    if (user.disabled) return this.refuseLogin(user, 'disabled', address);
    if (user.totpSecret !== null) {
      if (request.totp === undefined) {
        // The password was right: not a failure to count, the client just has to ask for the code.
        await limiter.forgive(request.username);
        this.count('totp_required');
        await audit.record({ action: 'login', outcome: 'totp-required', actorUserId: user.id, address });
        throw new RelayError(401, 'AUTH_TOTP_REQUIRED');
      }
      const step = verifyTotp(user.totpSecret, request.totp, this.deps.now());
      if (step === null) return this.refuseLogin(user, 'wrong-totp', address);
      if (!(await users.claimTotpStep(user.id, step))) return this.refuseLogin(user, 'replayed-totp', address);
    }
    await limiter.succeeded(request.username);
    this.count('success');
    await audit.record({ action: 'login', outcome: 'success', actorUserId: user.id, address });
    return this.startSession(user);
  }

  /** Spends the refresh token for a new pair; the access token reflects the account as it is now. */
  async refresh(refreshToken: string, address: string): Promise<TokenResponse> {
    const { refreshTokens, users, sessions, audit } = this.deps;
    const rotation = await refreshTokens.rotate(refreshToken);
    if (!rotation.ok) {
      await audit.record({ action: 'refresh', outcome: rotation.reason, actorUserId: rotation.userId, address });
      throw invalidRefresh(rotation.reason);
    }
    const user = await users.findById(rotation.userId);
    if (!user || user.disabled) {
      await sessions.revoke(rotation.sessionId, 'user-disabled');
      await audit.record({ action: 'refresh', outcome: 'user-disabled', actorUserId: rotation.userId, address });
      throw invalidRefresh('user-disabled');
    }
    // 'success-replayed': the answer to an earlier refresh with this token was lost (refresh-token-service.ts).
    await audit.record({ action: 'refresh', outcome: rotation.replayed ? 'success-replayed' : 'success', actorUserId: user.id, address });
    return this.respond(user, rotation.sessionId, rotation);
  }

  /** Ends the session the refresh token belongs to. Unknown or already ended: nothing to do. */
  async logout(refreshToken: string, address: string): Promise<void> {
    const session = await this.deps.refreshTokens.sessionOf(refreshToken);
    if (session) await this.deps.sessions.revoke(session.sessionId, 'logout');
    await this.deps.audit.record({ action: 'logout', outcome: session ? 'success' : 'unknown-token', actorUserId: session?.userId, address });
  }

  private async refuseLogin(user: UserRecord | undefined, reason: string, address: string): Promise<never> {
    this.count('failure');
    await this.deps.audit.record({ action: 'login', outcome: reason, actorUserId: user?.id, address });
    throw new RelayError(401, 'AUTH_INVALID_CREDENTIALS');
  }

  private async startSession(user: UserRecord): Promise<TokenResponse> {
    const { sessions, refreshTokens, config, now } = this.deps;
    await refreshTokens.pruneExpired(); // keeps the table to live sessions; cheap next to Argon2
    const sessionId = await sessions.create(user.id, new Date(now().getTime() + config.refreshTokenSeconds * 1000));
    return this.respond(user, sessionId, await refreshTokens.issue(sessionId));
  }

  private async respond(user: UserRecord, sessionId: string, refresh: { token: string; expiresAt: Date }): Promise<TokenResponse> {
    const access = await this.deps.tokens.issueAccessToken({ userId: user.id, username: user.username, role: user.role, sessionId });
    return {
      accessToken: access.token,
      accessTokenExpiresAt: access.expiresAt.toISOString(),
      refreshToken: refresh.token,
      refreshTokenExpiresAt: refresh.expiresAt.toISOString(),
      tokenType: 'Bearer',
      user: { id: user.id, username: user.username, role: user.role },
    };
  }

  private count(outcome: LoginMetricOutcome): void {
    this.deps.metrics.logins.inc({ outcome });
  }
}

function invalidRefresh(reason: RotationFailure | 'user-disabled'): RelayError {
  return new RelayError(401, 'AUTH_TOKEN_INVALID', REFRESH_FAILURE_MESSAGES[reason]);
}
