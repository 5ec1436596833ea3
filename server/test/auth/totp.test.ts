import { describe, expect, it } from 'vitest';
import { base32Decode, base32Encode, generateTotpSecret, hotp, totpCode, totpStep, totpUri, verifyTotp } from '../../src/auth/totp.js';

// RFC 6238 Appendix B uses the ASCII seed "12345678901234567890" for HMAC-SHA1.
const RFC_SEED = Buffer.from('12345678901234567890', 'ascii');
const RFC_SEED_BASE32 = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('TOTP (RFC 6238)', () => {
  it.each([
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ])('matches the Appendix B SHA-1 vector at T=%i', (seconds, expected) => {
    expect(totpCode(RFC_SEED, new Date(seconds * 1000), 8)).toBe(expected);
    // Six digits are the same truncation modulo 10^6.
    expect(totpCode(RFC_SEED, new Date(seconds * 1000))).toBe(expected.slice(2));
  });

  it('matches the RFC 4226 Appendix D HOTP values', () => {
    const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
    expect(expected.map((_, counter) => hotp(RFC_SEED, counter))).toEqual(expected);
  });

  it('counts 30-second steps from the epoch', () => {
    expect(totpStep(new Date(59_000))).toBe(1);
    expect(totpStep(new Date(60_000))).toBe(2);
    expect(totpStep(new Date(1_111_111_109_000))).toBe(0x23523ec);
  });

  it('accepts the current step and one either side, and returns the step that matched', () => {
    const codeAtStep1 = '287082'; // T = 30..59 s
    expect(verifyTotp(RFC_SEED_BASE32, codeAtStep1, new Date(45_000))).toBe(1);
    expect(verifyTotp(RFC_SEED_BASE32, codeAtStep1, new Date(89_000))).toBe(1); // one step late
    expect(verifyTotp(RFC_SEED_BASE32, codeAtStep1, new Date(10_000))).toBe(1); // one step early
    expect(verifyTotp(RFC_SEED_BASE32, codeAtStep1, new Date(90_000))).toBeNull(); // two steps late
    expect(verifyTotp(RFC_SEED_BASE32, '287083', new Date(45_000))).toBeNull();
    expect(verifyTotp(RFC_SEED_BASE32, '28708', new Date(45_000))).toBeNull();
    expect(verifyTotp(RFC_SEED_BASE32, '2870821', new Date(45_000))).toBeNull();
  });

  it('generates 160-bit secrets that verify their own codes', () => {
    const secret = generateTotpSecret();
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(base32Decode(secret)).toHaveLength(20);
    expect(generateTotpSecret()).not.toBe(secret);
    const at = new Date('2030-01-01T12:00:00Z');
    expect(verifyTotp(secret, totpCode(base32Decode(secret), at), at)).toBe(totpStep(at));
  });

  it('builds an otpauth URI naming RelayPACS', () => {
    const url = new URL(totpUri(RFC_SEED_BASE32, 'jane.doe@example.org'));
    expect(url.protocol).toBe('otpauth:');
    expect(url.host).toBe('totp');
    expect(decodeURIComponent(url.pathname)).toBe('/RelayPACS:jane.doe@example.org');
    expect(Object.fromEntries(url.searchParams)).toEqual({ secret: RFC_SEED_BASE32, issuer: 'RelayPACS', algorithm: 'SHA1', digits: '6', period: '30' });
  });
});

describe('base32 (RFC 4648 §10)', () => {
  it.each([
    ['', ''], ['f', 'MY======'], ['fo', 'MZXQ===='], ['foo', 'MZXW6==='], ['foob', 'MZXW6YQ='], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI======'],
  ])('round-trips %j', (plain, encoded) => {
    expect(base32Encode(Buffer.from(plain))).toBe(encoded.replace(/=+$/, ''));
    expect(base32Decode(encoded).toString()).toBe(plain);
  });

  it('forgives case, spaces and dashes but refuses other characters', () => {
    expect(base32Decode('mzxw 6ytb-oi').toString()).toBe('foobar');
    expect(() => base32Decode('MZXW1')).toThrow(RangeError);
  });

  it('encodes the RFC 6238 seed as authenticator apps expect', () => {
    expect(base32Encode(RFC_SEED)).toBe(RFC_SEED_BASE32);
  });
});
