// The accounts stores' contract (store/accounts-store.ts), written against the interfaces only:
// users, sessions, refresh-token rotation (through the service whose rules it must support, with
// reuse, the grace for a lost answer and racing rotations), login attempts and the signing key.
import { generateKeyPair, exportJWK } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoginRateLimiter } from '../../src/auth/login-rate-limiter.js';
import { hashRefreshToken, RefreshTokenService } from '../../src/auth/refresh-token-service.js';
import { SigningKeyRing } from '../../src/auth/signing-keys.js';
import { UserExistsError } from '../../src/store/accounts-store.js';
import type { RelayStore } from '../../src/store/relay-store.js';
import { testClock, type StoreFactory, type StoreUnderTest } from './store-under-test.js';

const HOUR_MS = 3600_000;

export function describeAccountsStoreContract(backend: string, open: StoreFactory): void {
  describe(`${backend}: accounts store`, () => {
    let clock: ReturnType<typeof testClock>;
    let subject: StoreUnderTest;
    let store: RelayStore;
    beforeEach(async () => {
      clock = testClock();
      subject = await open(clock.now);
      store = subject.store;
    });
    afterEach(async () => {
      await subject.dispose();
    });
    const now = () => clock.now().toISOString();
    const after = (ms: number) => new Date(clock.now().getTime() + ms).toISOString();
    const before = (ms: number) => new Date(clock.now().getTime() - ms).toISOString();

    describe('users', () => {
      it('creates, finds by id and by name without regard to case, and lists by name', async () => {
        const bob = await store.users.create('bob', 'admin', 'hash-b');
        const alice = await store.users.create('Alice', 'radiographer', 'hash-a');
        expect(alice).toEqual({
          id: alice.id, username: 'Alice', role: 'radiographer', passwordHash: 'hash-a', disabled: false,
          totpSecret: null, totpLastStep: null, createdAt: clock.now().toISOString(),
        });
        expect(await store.users.findById(bob.id)).toEqual(bob);
        expect(await store.users.findByUsername('ALICE')).toEqual(alice);
        expect(await store.users.findByUsername('carol')).toBeUndefined();
        expect(await store.users.findById(bob.id + alice.id + 1)).toBeUndefined();
        expect((await store.users.list()).map((u) => u.username)).toEqual(['Alice', 'bob']);
      });

      it('refuses a taken name, whatever its case, with UserExistsError', async () => {
        await store.users.create('alice', 'radiographer', 'hash');
        await expect(store.users.create('ALICE', 'admin', 'other')).rejects.toBeInstanceOf(UserExistsError);
        expect(await store.users.list()).toHaveLength(1);
      });

      it('changes the password hash and the disabled flag', async () => {
        const { id } = await store.users.create('alice', 'radiographer', 'old');
        await store.users.setPasswordHash(id, 'new');
        await store.users.setDisabled(id, true);
        expect(await store.users.findById(id)).toMatchObject({ passwordHash: 'new', disabled: true });
        await store.users.setDisabled(id, false);
        expect((await store.users.findById(id))!.disabled).toBe(false);
      });

      it('claims each TOTP step once, only forwards (RFC 6238 §5.2), and forgets the last step with the secret', async () => {
        const { id } = await store.users.create('alice', 'radiologist', 'hash');
        await store.users.setTotpSecret(id, 'SECRET');
        expect(await store.users.claimTotpStep(id, 100)).toBe(true);
        expect(await store.users.claimTotpStep(id, 100)).toBe(false);
        expect(await store.users.claimTotpStep(id, 99)).toBe(false);
        expect(await store.users.claimTotpStep(id, 101)).toBe(true);
        expect(await store.users.findById(id)).toMatchObject({ totpSecret: 'SECRET', totpLastStep: 101 });
        await store.users.setTotpSecret(id, 'OTHER');
        expect(await store.users.findById(id)).toMatchObject({ totpSecret: 'OTHER', totpLastStep: null });
        expect(await store.users.claimTotpStep(id, 50)).toBe(true);
        const racing = await Promise.all([store.users.claimTotpStep(id, 60), store.users.claimTotpStep(id, 60)]);
        expect(racing.filter(Boolean)).toHaveLength(1);
      });
    });

    describe('sessions', () => {
      it('is active until revoked, expired, or its user disabled, and only for its own user', async () => {
        const alice = await store.users.create('alice', 'radiographer', 'hash');
        const bob = await store.users.create('bob', 'radiographer', 'hash');
        const revoked = await store.sessions.create(alice.id, new Date(clock.now().getTime() + HOUR_MS));
        const expiring = await store.sessions.create(alice.id, new Date(clock.now().getTime() + HOUR_MS));
        const bobs = await store.sessions.create(bob.id, new Date(clock.now().getTime() + 2 * HOUR_MS));
        expect(await store.sessions.isActive(revoked, alice.id)).toBe(true);
        expect(await store.sessions.isActive(revoked, bob.id)).toBe(false);
        expect(await store.sessions.isActive('no-such-session', alice.id)).toBe(false);
        await store.sessions.revoke(revoked, 'logout');
        await store.sessions.revoke(revoked, 'again'); // no-op
        expect(await store.sessions.isActive(revoked, alice.id)).toBe(false);
        expect(await store.sessions.isActive(expiring, alice.id)).toBe(true);
        clock.advance(HOUR_MS);
        expect(await store.sessions.isActive(expiring, alice.id)).toBe(false);
        expect(await store.sessions.isActive(bobs, bob.id)).toBe(true);
        await store.users.setDisabled(bob.id, true);
        expect(await store.sessions.isActive(bobs, bob.id)).toBe(false);
        await store.users.setDisabled(bob.id, false);
        expect(await store.sessions.isActive(bobs, bob.id)).toBe(true);
      });

      it('revokes every session of one user and no other', async () => {
        const alice = await store.users.create('alice', 'radiographer', 'hash');
        const bob = await store.users.create('bob', 'radiographer', 'hash');
        const until = new Date(clock.now().getTime() + HOUR_MS);
        const alices = [await store.sessions.create(alice.id, until), await store.sessions.create(alice.id, until)];
        const bobs = await store.sessions.create(bob.id, until);
        await store.sessions.revokeAllForUser(alice.id, 'password-changed');
        for (const id of alices) expect(await store.sessions.isActive(id, alice.id)).toBe(false);
        expect(await store.sessions.isActive(bobs, bob.id)).toBe(true);
      });
    });

    describe('refresh tokens', () => {
      let userId: number;
      let sessionId: string;
      beforeEach(async () => {
        userId = (await store.users.create('alice', 'radiographer', 'hash')).id;
        sessionId = await store.sessions.create(userId, new Date(clock.now().getTime() + HOUR_MS));
      });

      it('stores a token by its hash with its session, spends it once, names its successor, and deletes expired ones', async () => {
        const tokens = store.refreshTokens;
        expect(await tokens.sessionExpiry(sessionId)).toBe(new Date(clock.now().getTime() + HOUR_MS).toISOString());
        expect(await tokens.sessionExpiry('no-such-session')).toBeUndefined();
        const expiresAt = (await tokens.sessionExpiry(sessionId))!;
        await tokens.insert({ tokenHash: 'h1', sessionId, issuedAt: clock.now().toISOString(), expiresAt });
        await tokens.insert({ tokenHash: 'h2', sessionId, issuedAt: clock.now().toISOString(), expiresAt });
        expect(await tokens.find('h1')).toEqual({ tokenHash: 'h1', sessionId, userId, expiresAt, usedAt: null, replacedBy: null, sessionRevokedAt: null });
        expect(await tokens.markUsed('h1', clock.now().toISOString())).toBe(true);
        expect(await tokens.markUsed('h1', clock.now().toISOString())).toBe(false);
        expect(await tokens.markUsed('unknown', clock.now().toISOString())).toBe(false);
        await tokens.setReplacedBy('h1', 'h2');
        await store.sessions.revoke(sessionId, 'logout');
        expect(await tokens.find('h1')).toMatchObject({ usedAt: clock.now().toISOString(), replacedBy: 'h2', sessionRevokedAt: clock.now().toISOString() });
        expect(await tokens.deleteExpired(new Date(clock.now().getTime() + HOUR_MS - 1).toISOString())).toBe(0);
        expect(await tokens.deleteExpired(expiresAt)).toBe(2);
        expect(await tokens.find('h1')).toBeUndefined();
      });

      it('rotates: reuse of a spent token ends the session, and the successor with it (RFC 9700 §4.14.2)', async () => {
        const service = new RefreshTokenService(store, clock.now);
        const first = (await service.issue(sessionId)).token;
        const second = await service.rotate(first);
        if (!second.ok) throw new Error('rotation failed');
        expect(second).toMatchObject({ sessionId, userId, replayed: false });
        expect((await store.refreshTokens.find(hashRefreshToken(first)))?.replacedBy).toBe(hashRefreshToken(second.token));
        expect(await service.rotate(first)).toMatchObject({ ok: false, reason: 'reused', sessionId, userId });
        expect(await store.sessions.isActive(sessionId, userId)).toBe(false);
        expect(await service.rotate(second.token)).toMatchObject({ ok: false, reason: 'revoked' });
      });

      it('rotates a spent token again within the grace while its successor is unseen, and catches the fork', async () => {
        const service = new RefreshTokenService(store, clock.now, 60_000);
        const first = (await service.issue(sessionId)).token;
        const lost = await service.rotate(first);
        clock.advance(30_000);
        const again = await service.rotate(first);
        expect(again).toMatchObject({ ok: true, replayed: true });
        if (!lost.ok || !again.ok) throw new Error('rotation failed');
        expect(await service.rotate(lost.token)).toMatchObject({ ok: false, reason: 'reused' });
        expect(await store.sessions.isActive(sessionId, userId)).toBe(false);
      });

      it('lets exactly one of racing rotations of one token succeed; the others are reuse', async () => {
        const service = new RefreshTokenService(store, clock.now);
        const token = (await service.issue(sessionId)).token;
        const results = await Promise.all(Array.from({ length: 6 }, () => service.rotate(token)));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok).map((r) => !r.ok && r.reason)).toEqual(Array(5).fill('reused'));
        expect(await store.sessions.isActive(sessionId, userId)).toBe(false);
      });
    });

    describe('login attempts', () => {
      it('keeps times per scope and key, newest `keep` only, and forgets by key, age and recency', async () => {
        const attempts = store.loginAttempts;
        for (const at of [1000, 2000, 3000, 4000]) await attempts.add('user', 'alice', at, 3);
        await attempts.add('address', 'alice', 2500, 3); // another scope, same key
        expect(await attempts.timesAfter('user', 'alice', 0)).toEqual([2000, 3000, 4000]);
        expect(await attempts.timesAfter('user', 'alice', 2000)).toEqual([3000, 4000]);
        await attempts.removeNewest('user', 'alice');
        expect(await attempts.timesAfter('user', 'alice', 0)).toEqual([2000, 3000]);
        await attempts.add('user', 'bob', 5000, 3);
        await attempts.add('user', 'carol', 6000, 3);
        expect(await attempts.keyCount('user')).toBe(3);
        expect(await attempts.keyCount('user', 'bob')).toBe(2);
        await attempts.forgetLeastRecent('user', 1, 'alice'); // alice is least recent, but spared: bob goes
        expect(await attempts.timesAfter('user', 'bob', 0)).toEqual([]);
        expect(await attempts.keyCount('user')).toBe(2);
        await attempts.pruneUpTo('user', 3000);
        expect(await attempts.timesAfter('user', 'alice', 0)).toEqual([]);
        expect(await attempts.timesAfter('user', 'carol', 0)).toEqual([6000]);
        expect(await attempts.timesAfter('address', 'alice', 0)).toEqual([2500]);
        await attempts.clear('user', 'carol');
        expect(await attempts.keyCount('user')).toBe(0);
      });

      it('gives every relay sharing the store one limit, with the same Retry-After', async () => {
        const relay = () => new LoginRateLimiter({ store, maxFailuresPerUser: 3, maxAttemptsPerAddress: 100, windowSeconds: 60, now: clock.now });
        const [first, second] = [relay(), relay()];
        expect(await first.admit('alice', '192.0.2.1')).toEqual({ allowed: true });
        clock.advance(10_000);
        expect(await second.admit('alice', '192.0.2.2')).toEqual({ allowed: true });
        expect(await first.admit('Alice', '192.0.2.3')).toEqual({ allowed: true });
        expect(await second.admit('alice', '192.0.2.4')).toEqual({ allowed: false, scope: 'user', retryAfterSeconds: 50 });
        await first.succeeded('alice');
        expect(await second.admit('alice', '192.0.2.4')).toEqual({ allowed: true });
      });

      it('admits no more parallel attempts than the limit: the check and the count are one unit of work', async () => {
        const limiter = new LoginRateLimiter({ store, maxFailuresPerUser: 3, maxAttemptsPerAddress: 100, windowSeconds: 60, now: clock.now });
        const decisions = await Promise.all(Array.from({ length: 10 }, (_, i) => limiter.admit('alice', `192.0.2.${i}`)));
        expect(decisions.filter((d) => d.allowed)).toHaveLength(3);
      });
    });

    describe('signing keys', () => {
      const newKey = async () => exportJWK((await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true })).privateKey);

      it('keeps the first key stored, even when relays add one at once', async () => {
        const candidates = await Promise.all(Array.from({ length: 3 }, newKey));
        expect(await store.signingKeys.all()).toEqual([]);
        const added = await Promise.all(candidates.map((candidate) => store.signingKeys.addFirst(candidate)));
        expect(added.filter(Boolean)).toHaveLength(1);
        const kept = await store.signingKeys.all();
        expect(kept).toHaveLength(1);
        expect(candidates).toContainEqual(kept[0]!.jwk);
        expect(await store.signingKeys.addFirst(await newKey())).toBe(false);
      });

      it('rotates: the new key first and not retired, the others retired, verifying until their own verifyUntil or as tokens live, then pruned', async () => {
        const first = await newKey();
        await store.signingKeys.addFirst(first);
        clock.advance(1000);
        const second = await newKey();
        await store.signingKeys.rotate(second); // no verifyUntil of its own: the relays judge
        const retiredAt = now();
        const usable = await store.signingKeys.usable(now(), before(3600 * 1000));
        expect(usable.map((k) => k.jwk)).toEqual([second, first]);
        expect(usable[0]).not.toHaveProperty('retiredAt');
        expect(usable[1]).toMatchObject({ retiredAt });
        expect(usable[1]).not.toHaveProperty('verifyUntil');
        // A second rotation, for a leaked key: it retires only the key that was signing, until 10 minutes from now.
        clock.advance(1000);
        const third = await newKey();
        await store.signingKeys.rotate(third, after(600 * 1000));
        expect((await store.signingKeys.usable(now(), before(3600 * 1000))).map((k) => [k.jwk, k.verifyUntil])).toEqual([[third, undefined], [second, after(600 * 1000)], [first, undefined]]);
        // An hour on: the first key (retired without a verifyUntil, tokens live an hour) no longer verifies; the second's time is up too.
        clock.advance(3600 * 1000);
        expect((await store.signingKeys.usable(now(), before(3600 * 1000))).map((k) => k.jwk)).toEqual([third]);
        expect(await store.signingKeys.prune(now(), before(3600 * 1000))).toBe(2);
        expect((await store.signingKeys.all()).map((k) => k.jwk)).toEqual([third]);
        expect(await store.signingKeys.prune(now(), before(3600 * 1000))).toBe(0);
      });

      it('gives relays starting together one signing key', async () => {
        const rings = await Promise.all([SigningKeyRing.open(store.signingKeys, { now: clock.now, longestTokenSeconds: 3600 }), SigningKeyRing.open(store.signingKeys, { now: clock.now, longestTokenSeconds: 3600 })]);
        expect(rings[0].kids()).toEqual(rings[1].kids());
        expect(rings[0].kids()).toHaveLength(1);
        expect((await SigningKeyRing.open(store.signingKeys, { now: clock.now, longestTokenSeconds: 3600 })).kids()).toEqual(rings[0].kids());
      });
    });
  });
}
