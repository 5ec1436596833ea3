import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Time-based one-time passwords, RFC 6238 over HOTP (RFC 4226): HMAC-SHA1, 30-second steps from the
 * Unix epoch, 6 digits — the parameters every authenticator app assumes when the URI names no others.
 */
export const TOTP_STEP_SECONDS = 30;
export const TOTP_DIGITS = 6;
export const TOTP_ISSUER = 'RelayPACS';
/** RFC 4226 §4 R6 asks for 160-bit shared secrets (the HMAC-SHA1 block-sized recommendation). */
const SECRET_BYTES = 20;
/** Steps either side of now that still verify: RFC 6238 §5.2 allows one for clock drift and typing time. */
const ALLOWED_DRIFT_STEPS = 1;

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'; // RFC 4648 §6

export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1; // keep only the bits not yet written, so the int never overflows
  }
  if (bits > 0) out += BASE32_ALPHABET[(buffer << (5 - bits)) & 31];
  // Authenticator apps take secrets unpadded (Google's Key Uri Format), so no '=' here.
  return out;
}

/** Decodes RFC 4648 base32, forgiving what people do when copying: lower case, spaces, dashes, padding. */
export function base32Decode(text: string): Buffer {
  const clean = text.toUpperCase().replace(/[\s-]/g, '').replace(/=+$/, '');
  const out: number[] = [];
  let buffer = 0;
  let bits = 0;
  for (const char of clean) {
    const value = BASE32_ALPHABET.indexOf(char);
    if (value < 0) throw new RangeError('the TOTP secret is not valid base32');
    buffer = (buffer << 5) | value;
    bits += 5;
    if (bits >= 8) {
      out.push((buffer >>> (bits - 8)) & 0xff);
      bits -= 8;
      buffer &= (1 << bits) - 1;
    }
  }
  return Buffer.from(out);
}

/** A fresh random shared secret, base32 as stored in users.totp_secret and shown to the user. */
export function generateTotpSecret(): string {
  return base32Encode(randomBytes(SECRET_BYTES));
}

/** HOTP value of one counter (RFC 4226 §5.3: HMAC, dynamic truncation, modulo 10^digits). */
export function hotp(key: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, '0');
}

/** The RFC 6238 time step T = floor((unix time - T0) / X) with T0 = 0. */
export function totpStep(at: Date, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(at.getTime() / 1000 / stepSeconds);
}

export function totpCode(key: Uint8Array, at: Date, digits = TOTP_DIGITS): string {
  return hotp(key, totpStep(at), digits);
}

/**
 * Checks a code against the current step and one step either side. Returns the time step it
 * matched, or null. It does not decide replay: the caller claims the step (users.claimTotpStep),
 * which refuses the same or an older step than the last one used (RFC 6238 §5.2).
 */
export function verifyTotp(secretBase32: string, code: string, at: Date): number | null {
  if (!/^[0-9]{6}$/.test(code)) return null;
  const key = base32Decode(secretBase32);
  const current = totpStep(at);
  const given = Buffer.from(code);
  let matched: number | null = null;
  // Compare every candidate in constant time and don't stop early: timing reveals nothing.
  for (let step = Math.max(0, current - ALLOWED_DRIFT_STEPS); step <= current + ALLOWED_DRIFT_STEPS; step++) {
    if (timingSafeEqual(Buffer.from(hotp(key, step)), given) && matched === null) matched = step;
  }
  return matched;
}

/**
 * The otpauth:// URI an authenticator app scans (Google Authenticator Key Uri Format): the label
 * "Issuer:account" and the issuer parameter both name RelayPACS so apps group the entry.
 */
export function totpUri(secretBase32: string, account: string, issuer = TOTP_ISSUER): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const params = new URLSearchParams({
    secret: secretBase32,
    issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_SECONDS),
  });
  return `otpauth://totp/${label}?${params.toString()}`;
}
