// The token service on its own: a verified token is remembered (chunks of an upload all carry the
// same one), and remembering it must not loosen any check.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newSigningJwk, SigningKeyRing } from '../../src/auth/signing-keys.js';
import { TokenService } from '../../src/auth/token-service.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';

let temp: TempSqliteStore;
let keys: SigningKeyRing;
beforeAll(async () => {
  temp = await openTempSqliteStore();
  keys = await SigningKeyRing.open(temp.store.signingKeys, { longestTokenSeconds: 600 });
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

describe('signing keys: a ring shared by the relays, rotated without signing anyone out', () => {
  let own: TempSqliteStore;
  beforeAll(async () => {
    own = await openTempSqliteStore();
  });
  afterAll(async () => {
    await own.dispose();
  });
  const principal = { userId: 3, username: 'carol', role: 'radiographer' as const, sessionId: 's-3' };

  it('signs with the newest key after a rotation, and verifies tokens of the retired key until its verifyUntil, on every relay', async () => {
    const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
    const now = () => new Date(clock.now);
    const ringOptions = { now, longestTokenSeconds: 600 };
    const [ringA, ringB] = [await SigningKeyRing.open(own.store.signingKeys, ringOptions), await SigningKeyRing.open(own.store.signingKeys, ringOptions)];
    expect(ringA.kids()).toEqual(ringB.kids()); // relays starting together share the first key
    const [relayA, relayB] = [ringA, ringB].map((ring) => new TokenService({ keys: ring, issuer: 'relaypacs-test', accessTokenSeconds: 600, now }));
    const before = await relayA!.issueAccessToken(principal);
    const oldKid = ringA.kids()[0];

    // An administrator rotates (the CLI, on any machine): the old key verifies 30 minutes more.
    await own.store.signingKeys.rotate(await newSigningJwk(), new Date(clock.now + 30 * 60_000).toISOString());
    await ringA.reload();
    expect(ringA.kids()).toHaveLength(2);
    expect(ringA.kids()[1]).toBe(oldKid);
    const after = await relayA!.issueAccessToken(principal);
    expect(JSON.parse(Buffer.from(after.token.split('.')[0]!, 'base64url').toString()).kid).toBe(ringA.kids()[0]);
    // Relay B has not reloaded: the unknown kid makes it look, so it verifies at once.
    expect(ringB.kids()).toEqual([oldKid]);
    expect(await relayB!.verifyAccessToken(after.token)).toMatchObject({ userId: 3 });
    expect(ringB.kids()).toEqual(ringA.kids());
    expect(await relayB!.verifyAccessToken(before.token)).toMatchObject({ userId: 3 });

    // Past verifyUntil the retired key verifies nothing (a token of it not seen before), and is pruned.
    clock.now += 31 * 60_000;
    const lateIssuer = new TokenService({ keys: { signing: () => ({ kid: oldKid!, privateKey: (ringB as unknown as { keys: { privateKey: never }[] }).keys[1]!.privateKey }), verificationKey: async () => undefined, verifies: () => false }, issuer: 'relaypacs-test', accessTokenSeconds: 600, now });
    const signedWithRetired = await lateIssuer.issueAccessToken(principal);
    await expect(relayB!.verifyAccessToken(signedWithRetired.token)).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    await ringB.reload(); // and prunes it
    expect(await own.store.signingKeys.all()).toHaveLength(1);
    expect(ringB.kids()).toEqual([ringA.kids()[0]]);
  });

  it('verifies with a key retired without a verifyUntil of its own for the longest token life + 5 minutes, then not', async () => {
    const clock = { now: Date.now() }; // the store stamps the retirement with its own clock: the real one
    const now = () => new Date(clock.now);
    const ring = await SigningKeyRing.open(own.store.signingKeys, { now, longestTokenSeconds: 600 });
    const tokens = new TokenService({ keys: ring, issuer: 'relaypacs-test', accessTokenSeconds: 600, now });
    const oldKid = ring.kids()[0]!;
    await own.store.signingKeys.rotate(await newSigningJwk());
    await ring.reload();
    clock.now += (600 + 300 - 1) * 1000;
    expect(ring.verifies(oldKid)).toBe(true);
    clock.now += 2000;
    expect(ring.verifies(oldKid)).toBe(false);
    await ring.reload(); // pruned
    expect(ring.kids()).toHaveLength(1);
    expect((await tokens.issueAccessToken(principal)).token).toBeTruthy();
  });

  it('has requests with a new kid wait for a reload under way rather than refuse them', async () => {
    const ring = await SigningKeyRing.open(own.store.signingKeys, { longestTokenSeconds: 600 });
    const tokens = new TokenService({ keys: ring, issuer: 'relaypacs-test', accessTokenSeconds: 600 });
    const other = await SigningKeyRing.open(own.store.signingKeys, { longestTokenSeconds: 600 });
    await own.store.signingKeys.rotate(await newSigningJwk());
    await other.reload();
    const signer = new TokenService({ keys: other, issuer: 'relaypacs-test', accessTokenSeconds: 600 });
    // A burst of tokens signed with the new key reaches a relay that has not reloaded: all verify.
    const burst = await Promise.all(Array.from({ length: 8 }, (_, i) => signer.issueAccessToken({ ...principal, sessionId: `s-${i}` })));
    const verified = await Promise.all(burst.map((t) => tokens.verifyAccessToken(t.token)));
    expect(verified.map((v) => v.sessionId)).toEqual(burst.map((_, i) => `s-${i}`));
  });

  it('refuses a token naming a kid no relay has, or none, without a reload per token', async () => {
    const ring = await SigningKeyRing.open(own.store.signingKeys, { longestTokenSeconds: 600 });
    const reloads = { count: 0 };
    const reload = ring.reload.bind(ring);
    ring.reload = async () => {
      reloads.count++;
      return reload();
    };
    const tokens = new TokenService({ keys: ring, issuer: 'relaypacs-test', accessTokenSeconds: 600 });
    const { token } = await tokens.issueAccessToken(principal);
    const [header, payload, signature] = token.split('.');
    const withHeader = (fields: object) => `${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header!, 'base64url').toString()), ...fields })).toString('base64url')}.${payload}.${signature}`;
    for (let i = 0; i < 20; i++) await expect(tokens.verifyAccessToken(withHeader({ kid: `forged-${i}` }))).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    await expect(tokens.verifyAccessToken(withHeader({ kid: undefined }))).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    expect(reloads.count).toBeLessThanOrEqual(1);
  });
});
