// The token service on its own: a verified token is remembered (chunks of an upload all carry the
// same one), and remembering it must not loosen any check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrCreateSigningKeys, type SigningKeys } from '../../src/auth/signing-keys.js';
import { TokenService } from '../../src/auth/token-service.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';

let temp: TempSqliteStore;
let keys: SigningKeys;
beforeAll(async () => {
  temp = await openTempSqliteStore();
  keys = await loadOrCreateSigningKeys(temp.store.signingKeys);
});
afterAll(async () => {
  await temp.dispose();
});

function service(clock: { now: number }) {
  return new TokenService({ keys, issuer: 'relaypacs-test', accessTokenSeconds: 600, now: () => new Date(clock.now) });
}

describe('token service', () => {
  it('still refuses a remembered upload token for another upload, as an access token, and once expired', async () => {
    const clock = { now: Date.parse('2026-11-22T10:00:00Z') };
    const tokens = service(clock);
    const token = await tokens.issueUploadToken({ userId: 7, uploadId: 'up-1', sessionId: 's-1' }, new Date(clock.now + 60_000));
    expect(await tokens.verifyUploadToken(token, 'up-1')).toEqual({ userId: 7, uploadId: 'up-1', sessionId: 's-1' });
    expect(await tokens.verifyUploadToken(token, 'up-1')).toEqual({ userId: 7, uploadId: 'up-1', sessionId: 's-1' });
    await expect(tokens.verifyUploadToken(token, 'up-2')).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    await expect(tokens.verifyAccessToken(token)).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    clock.now += 64_000; // within the 5 s tolerance
    expect(await tokens.verifyUploadToken(token, 'up-1')).toEqual({ userId: 7, uploadId: 'up-1', sessionId: 's-1' });
    clock.now += 2_000;
    await expect(tokens.verifyUploadToken(token, 'up-1')).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID', message: 'the token has expired' });
  });

  it('never remembers a token that failed: a tampered copy of a good one stays refused', async () => {
    const clock = { now: Date.parse('2026-11-22T10:00:00Z') };
    const tokens = service(clock);
    const token = await tokens.issueUploadToken({ userId: 7, uploadId: 'up-1', sessionId: 's-1' }, new Date(clock.now + 60_000));
    const [header, payload, signature] = token.split('.');
    const tampered = `${header}.${payload}.${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'BB' : 'AA'}`;
    await expect(tokens.verifyUploadToken(tampered, 'up-1')).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    expect(await tokens.verifyUploadToken(token, 'up-1')).toEqual({ userId: 7, uploadId: 'up-1', sessionId: 's-1' });
    await expect(tokens.verifyUploadToken(tampered, 'up-1')).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
  });
});
