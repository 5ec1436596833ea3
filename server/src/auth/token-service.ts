import { randomUUID } from 'node:crypto';
import { errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { RelayError } from '../http/relay-error.js';
import { isRole, type Role } from './roles.js';
import { JWT_ALGORITHM, type SigningKeySource } from './signing-keys.js';

/**
 * Access and upload tokens are JWTs told apart by `typ` and `aud` (RFC 8725 §3.11-3.12), so one can
 * never stand in for the other. Refresh tokens are not JWTs at all: opaque, stored hashed, rotated.
 */
export const ACCESS_TOKEN_TYPE = 'at+jwt'; // RFC 9068
export const UPLOAD_TOKEN_TYPE = 'relaypacs-upload+jwt';
export const ACCESS_AUDIENCE = 'relaypacs-api';
export const UPLOAD_AUDIENCE = 'relaypacs-upload';

export interface AccessPrincipal {
  userId: number;
  username: string;
  role: Role;
  sessionId: string;
}

/** A verified access token: who, and until when it is good (an event stream ends then). */
export interface VerifiedAccess extends AccessPrincipal {
  expiresAt: Date;
}

/**
 * An upload token's holder. `sessionId` is the sign-in it was issued in: the token dies with that
 * session (sign-out, refresh-token reuse, password change, account disabled), not only at its expiry.
 */
export interface UploadPrincipal {
  userId: number;
  uploadId: string;
  sessionId: string;
}

export interface TokenServiceOptions {
  keys: SigningKeySource;
  issuer: string;
  accessTokenSeconds: number;
  now?: () => Date;
}

/** Tokens whose signature and claims were checked, kept so a chunk does not pay an EdDSA verification each. */
const VERIFIED_CACHE_SIZE = 512;
const CLOCK_TOLERANCE_SECONDS = 5;

export class TokenService {
  private readonly now: () => Date;
  /**
   * Verified tokens by `${typ} ${token}`: a token's signature and its issuer, audience and type
   * claims cannot change, so a token seen before is only checked for expiry again. Every chunk of
   * an upload carries the same upload token; verifying it each time was a tenth of the relay's
   * work on small instances. Bounded: the oldest entry goes when full.
   */
  private readonly verified = new Map<string, { payload: JWTPayload; kid: string }>();

  constructor(private readonly options: TokenServiceOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async issueAccessToken(principal: AccessPrincipal): Promise<{ token: string; expiresAt: Date }> {
    const issuedAt = Math.floor(this.now().getTime() / 1000);
    const expiresAt = issuedAt + this.options.accessTokenSeconds;
    const token = await this.sign({ role: principal.role, sid: principal.sessionId, name: principal.username }, {
      typ: ACCESS_TOKEN_TYPE, audience: ACCESS_AUDIENCE, subject: String(principal.userId), issuedAt, expiresAt,
    });
    return { token, expiresAt: new Date(expiresAt * 1000) };
  }

  async issueUploadToken(principal: UploadPrincipal, expiresAt: Date): Promise<string> {
    return this.sign({ upl: principal.uploadId, sid: principal.sessionId }, {
      typ: UPLOAD_TOKEN_TYPE, audience: UPLOAD_AUDIENCE, subject: String(principal.userId),
      issuedAt: Math.floor(this.now().getTime() / 1000), expiresAt: Math.floor(expiresAt.getTime() / 1000),
    });
  }

  async verifyAccessToken(token: string): Promise<VerifiedAccess> {
    const payload = await this.verify(token, ACCESS_TOKEN_TYPE, ACCESS_AUDIENCE);
    const userId = Number(payload.sub);
    if (!Number.isInteger(userId) || !isRole(payload.role) || typeof payload.sid !== 'string' || typeof payload.name !== 'string') {
      throw invalidToken();
    }
    return { userId, role: payload.role, sessionId: payload.sid, username: payload.name, expiresAt: new Date(payload.exp! * 1000) };
  }

  /** Accepts the token only for the upload it was issued for. */
  async verifyUploadToken(token: string, uploadId: string): Promise<UploadPrincipal> {
    const payload = await this.verify(token, UPLOAD_TOKEN_TYPE, UPLOAD_AUDIENCE);
    const userId = Number(payload.sub);
    // A token without a session (issued before tokens were bound to one) cannot be checked against it: refused.
    if (!Number.isInteger(userId) || typeof payload.sid !== 'string') throw invalidToken();
    if (payload.upl !== uploadId) throw invalidToken('this upload token belongs to another upload');
    return { userId, uploadId, sessionId: payload.sid };
  }

  private async sign(claims: JWTPayload, o: { typ: string; audience: string; subject: string; issuedAt: number; expiresAt: number }): Promise<string> {
    const { kid, privateKey } = this.options.keys.signing();
    return new SignJWT(claims)
      .setProtectedHeader({ alg: JWT_ALGORITHM, typ: o.typ, kid })
      .setIssuer(this.options.issuer)
      .setAudience(o.audience)
      .setSubject(o.subject)
      .setIssuedAt(o.issuedAt)
      .setExpirationTime(o.expiresAt)
      .setJti(randomUUID())
      .sign(privateKey);
  }

  private async verify(token: string, typ: string, audience: string): Promise<JWTPayload> {
    const key = `${typ} ${token}`;
    const known = this.verified.get(key);
    if (known) {
      // Its key may have been retired since (a leaked key rotated with --verify-for 0): checked again.
      if (!this.options.keys.verifies(known.kid)) {
        this.verified.delete(key);
        throw invalidToken();
      }
      const { payload } = known;
      if (typeof payload.exp === 'number' && payload.exp + CLOCK_TOLERANCE_SECONDS > this.now().getTime() / 1000) return payload;
      this.verified.delete(key);
      throw invalidToken('the token has expired');
    }
    const verified = await this.verifySignatureAndClaims(token, typ, audience);
    if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(key, verified);
    return verified.payload;
  }

  private async verifySignatureAndClaims(token: string, typ: string, audience: string): Promise<{ payload: JWTPayload; kid: string }> {
    try {
      // The key named by the token's kid (RFC 7515 §4.1.4), among those that still verify; the
      // algorithm stays pinned whatever the header says.
      const { payload, protectedHeader } = await jwtVerify(token, async (header) => {
        const key = await this.options.keys.verificationKey(header.kid);
        if (!key) throw new joseErrors.JWKSNoMatchingKey();
        return key;
      }, {
        algorithms: [JWT_ALGORITHM],
        issuer: this.options.issuer,
        audience,
        typ,
        requiredClaims: ['exp', 'iat', 'sub', 'jti'],
        currentDate: this.now(),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      });
      // A token verified has the kid of a key that verifies: the resolver above found it.
      return { payload, kid: protectedHeader.kid! };
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) throw invalidToken(error.code === 'ERR_JWT_EXPIRED' ? 'the token has expired' : undefined);
      throw error;
    }
  }
}

function invalidToken(message?: string): RelayError {
  return new RelayError(401, 'AUTH_TOKEN_INVALID', message, {}, { 'www-authenticate': 'Bearer error="invalid_token"' });
}
