import { Type, type Static } from 'typebox';

/** POST /auth/login */
export const LoginRequest = Type.Object({
  username: Type.String({ minLength: 1, maxLength: 128 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  /** RFC 6238 code, required when the account has TOTP enrolled. */
  totp: Type.Optional(Type.String({ pattern: '^[0-9]{6}$' })),
}, { additionalProperties: false });
export type LoginRequest = Static<typeof LoginRequest>;

/** Answer of /auth/login and /auth/refresh. */
export const TokenResponse = Type.Object({
  accessToken: Type.String(),
  accessTokenExpiresAt: Type.String(),
  refreshToken: Type.String(),
  refreshTokenExpiresAt: Type.String(),
  tokenType: Type.Literal('Bearer'),
  user: Type.Object({ id: Type.Integer(), username: Type.String(), role: Type.String() }),
});
export type TokenResponse = Static<typeof TokenResponse>;

/** POST /auth/refresh and POST /auth/logout */
export const RefreshRequest = Type.Object({
  refreshToken: Type.String({ minLength: 1, maxLength: 512 }),
}, { additionalProperties: false });
export type RefreshRequest = Static<typeof RefreshRequest>;

/**
 * Account names: letters, digits and . _ @ - (so e-mail-like names work), no spaces or control
 * characters that would confuse logs, audit rows or the otpauth label.
 */
export const USERNAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$';
/** Stated on the wire so clients can tell people before they send; auth/passwords.ts enforces it. */
export const MIN_PASSWORD_LENGTH = 10;

const RoleSchema = Type.Union([
  Type.Literal('admin'), Type.Literal('radiographer'), Type.Literal('clinician'), Type.Literal('radiologist'), Type.Literal('device'),
]);

/** An account as administrators see it: never its password hash or TOTP secret. */
export const UserSummary = Type.Object({
  id: Type.Integer(),
  username: Type.String(),
  role: RoleSchema,
  disabled: Type.Boolean(),
  totpEnrolled: Type.Boolean(),
  createdAt: Type.String(),
});
export type UserSummary = Static<typeof UserSummary>;

/** GET /admin/users */
export const UserListResponse = Type.Object({ users: Type.Array(UserSummary) });
export type UserListResponse = Static<typeof UserListResponse>;

/** POST /admin/users */
export const CreateUserRequest = Type.Object({
  username: Type.String({ pattern: USERNAME_PATTERN }),
  role: RoleSchema,
  password: Type.String({ minLength: MIN_PASSWORD_LENGTH, maxLength: 1024 }),
}, { additionalProperties: false });
export type CreateUserRequest = Static<typeof CreateUserRequest>;

/** The :username of /admin/users/:username/... */
export const UsernameParams = Type.Object({ username: Type.String({ minLength: 1, maxLength: 128 }) });
export type UsernameParams = Static<typeof UsernameParams>;
