import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashRefreshToken, RefreshTokenService } from '../../src/auth/refresh-token-service.js';
import type { SessionsStore } from '../../src/store/accounts-store.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';

const DAY_MS = 24 * 3600 * 1000;

describe('RefreshTokenService', () => {
  let temp: TempSqliteStore;
  let dir: string;
  let ms: number;
  let sessions: SessionsStore;
  let store: RefreshTokenService;
  let userId: number;
  const now = () => new Date(ms);
  const db = () => temp.store.database;

  beforeEach(async () => {
    ms = Date.parse('2030-01-01T00:00:00Z');
    temp = await openTempSqliteStore(now);
    dir = temp.dir;
    sessions = temp.store.sessions;
    store = new RefreshTokenService(temp.store, now);
    userId = (await temp.store.users.create('alice', 'radiographer', 'not-a-real-hash')).id;
  });

  afterEach(async () => {
    await temp.dispose();
  });

  const newSession = (lifetimeMs = 30 * DAY_MS) => sessions.create(userId, new Date(ms + lifetimeMs));

  it('issues opaque prefixed tokens and stores only their SHA-256', async () => {
    const sessionId = await newSession();
    const { token, expiresAt } = await store.issue(sessionId);
    expect(token).toMatch(/^rpr_[A-Za-z0-9_-]{43}$/);
    expect(expiresAt.getTime()).toBe(ms + 30 * DAY_MS);
    const rows = db().prepare('SELECT * FROM refresh_tokens').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(hashRefreshToken(token));
    expect(JSON.stringify(rows)).not.toContain(token.slice(4));
  });

  it('rotates: the successor works, the spent token is marked used', async () => {
    const sessionId = await newSession();
    const first = (await store.issue(sessionId)).token;
    const second = await store.rotate(first);
    expect(second).toMatchObject({ ok: true, sessionId, userId });
    if (!second.ok) throw new Error('unreachable');
    expect(second.token).not.toBe(first);
    const third = await store.rotate(second.token);
    expect(third.ok).toBe(true);
    const used = db().prepare('SELECT used_at FROM refresh_tokens WHERE token_hash = ?').get(hashRefreshToken(first)) as { used_at: string | null };
    expect(used.used_at).toBe(now().toISOString());
  });

  it('revokes the whole family when a spent token comes back', async () => {
    const sessionId = await newSession();
    const first = (await store.issue(sessionId)).token;
    const second = await store.rotate(first);
    if (!second.ok) throw new Error('rotation failed');
    expect(await sessions.isActive(sessionId, userId)).toBe(true);
    expect(await store.rotate(first)).toMatchObject({ ok: false, reason: 'reused', sessionId, userId });
    expect(await sessions.isActive(sessionId, userId)).toBe(false);
    // The thief or the owner, whoever holds the newer token, is out too.
    expect(await store.rotate(second.token)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  describe('with a grace for a lost answer', () => {
    const GRACE_MS = 60_000;
    let graced: RefreshTokenService;
    beforeEach(() => {
      graced = new RefreshTokenService(temp.store, now, GRACE_MS);
    });

    it('rotates a spent token again within the grace while its successor was never presented, and spends that successor', async () => {
      const sessionId = await newSession();
      const first = (await graced.issue(sessionId)).token;
      const lost = await graced.rotate(first);
      expect(lost).toMatchObject({ ok: true, replayed: false });
      ms += GRACE_MS - 1000;
      const again = await graced.rotate(first);
      expect(again).toMatchObject({ ok: true, replayed: true, sessionId, userId });
      if (!lost.ok || !again.ok) throw new Error('rotation failed');
      expect(again.token).not.toBe(lost.token);
      expect(await sessions.isActive(sessionId, userId)).toBe(true);
      // The new successor works; the one whose answer was lost, if it turns up after all, is a fork.
      const next = await graced.rotate(again.token);
      expect(next).toMatchObject({ ok: true, replayed: false });
      expect(await graced.rotate(lost.token)).toMatchObject({ ok: false, reason: 'reused' });
      expect(await sessions.isActive(sessionId, userId)).toBe(false);
    });

    it('counts the grace from the first rotation: replays do not extend it', async () => {
      const sessionId = await newSession();
      const first = (await graced.issue(sessionId)).token;
      await graced.rotate(first);
      ms += GRACE_MS / 2;
      expect(await graced.rotate(first)).toMatchObject({ ok: true, replayed: true });
      ms += GRACE_MS / 2;
      expect(await graced.rotate(first)).toMatchObject({ ok: false, reason: 'reused' });
      expect(await sessions.isActive(sessionId, userId)).toBe(false);
    });

    it('treats it as reuse once the successor was presented, or after the grace', async () => {
      const used = await newSession();
      const a = (await graced.issue(used)).token;
      const b = await graced.rotate(a);
      if (!b.ok) throw new Error('rotation failed');
      expect((await graced.rotate(b.token)).ok).toBe(true);
      expect(await graced.rotate(a)).toMatchObject({ ok: false, reason: 'reused' });
      expect(await sessions.isActive(used, userId)).toBe(false);

      const late = await newSession();
      const c = (await graced.issue(late)).token;
      await graced.rotate(c);
      ms += GRACE_MS + 1;
      expect(await graced.rotate(c)).toMatchObject({ ok: false, reason: 'reused' });
      expect(await sessions.isActive(late, userId)).toBe(false);
    });

    it('still refuses a replay for a revoked session', async () => {
      const sessionId = await newSession();
      const first = (await graced.issue(sessionId)).token;
      await graced.rotate(first);
      await sessions.revoke(sessionId, 'logout');
      expect(await graced.rotate(first)).toMatchObject({ ok: false, reason: 'revoked' });
    });
  });

  it('leaves other families alone when one is revoked', async () => {
    const a = (await store.issue(await newSession())).token;
    const b = (await store.issue(await newSession())).token;
    await store.rotate(a);
    await store.rotate(a);
    expect((await store.rotate(b)).ok).toBe(true);
  });

  it('refuses expired tokens, revoked sessions and strings it never issued', async () => {
    const shortSession = await newSession(3600 * 1000);
    const expiring = (await store.issue(shortSession)).token;
    const revokedSession = await newSession();
    const revoked = (await store.issue(revokedSession)).token;
    await sessions.revoke(revokedSession, 'logout');
    expect(await store.rotate(revoked)).toMatchObject({ ok: false, reason: 'revoked' });
    ms += 3600 * 1000;
    expect(await store.rotate(expiring)).toMatchObject({ ok: false, reason: 'expired' });
    expect(await store.rotate('rpr_' + 'A'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });
    expect(await store.rotate('eyJhbGciOiJFZERTQSJ9.e30.c2ln')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('finds the session of used and unused tokens for logout, and prunes expired ones', async () => {
    const sessionId = await newSession(3600 * 1000);
    const first = (await store.issue(sessionId)).token;
    const second = await store.rotate(first);
    if (!second.ok) throw new Error('rotation failed');
    expect(await store.sessionOf(first)).toEqual({ sessionId, userId });
    expect(await store.sessionOf(second.token)).toEqual({ sessionId, userId });
    expect(await store.sessionOf('rpr_nothing')).toBeUndefined();
    expect(await store.pruneExpired()).toBe(0);
    ms += 3600 * 1000;
    expect(await store.pruneExpired()).toBe(2);
  });

  it('lets exactly one of several processes racing with the same token rotate it', async () => {
    const sessionId = await newSession();
    const token = (await store.issue(sessionId)).token;
    const fixture = fileURLToPath(new URL('./fixtures/rotate-refresh-token.ts', import.meta.url));
    const startAt = Date.now() + 1500; // after every child has started and opened the file
    const results = await Promise.all(Array.from({ length: 4 }, () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, join(dir, 'relay.db'), token, String(startAt)])
        .then(({ stdout }) => JSON.parse(stdout) as { ok: boolean; reason?: string })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => r.reason)).toEqual(['reused', 'reused', 'reused']);
    expect(await sessions.isActive(sessionId, userId)).toBe(false);
  });
});
