import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashRefreshToken, RefreshTokenStore } from '../../src/auth/refresh-token-store.js';
import { SessionStore } from '../../src/auth/session-store.js';
import { UsersRepository } from '../../src/auth/users-repository.js';
import { openDatabase, type RelayDatabase } from '../../src/db/database.js';

const DAY_MS = 24 * 3600 * 1000;

describe('RefreshTokenStore', () => {
  let dir: string;
  let db: RelayDatabase;
  let ms: number;
  let sessions: SessionStore;
  let store: RefreshTokenStore;
  let userId: number;
  const now = () => new Date(ms);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaypacs-refresh-'));
    db = openDatabase(join(dir, 'relay.db'));
    ms = Date.parse('2030-01-01T00:00:00Z');
    sessions = new SessionStore(db, now);
    store = new RefreshTokenStore(db, sessions, now);
    userId = new UsersRepository(db, now).create('alice', 'radiographer', 'not-a-real-hash').id;
  });

  afterEach(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });

  const newSession = (lifetimeMs = 30 * DAY_MS) => sessions.create(userId, new Date(ms + lifetimeMs));

  it('issues opaque prefixed tokens and stores only their SHA-256', () => {
    const sessionId = newSession();
    const { token, expiresAt } = store.issue(sessionId);
    expect(token).toMatch(/^rpr_[A-Za-z0-9_-]{43}$/);
    expect(expiresAt.getTime()).toBe(ms + 30 * DAY_MS);
    const rows = db.prepare('SELECT * FROM refresh_tokens').all() as Record<string, unknown>[];
    expect(rows).toHaveLength(1);
    expect(rows[0]!.token_hash).toBe(hashRefreshToken(token));
    expect(JSON.stringify(rows)).not.toContain(token.slice(4));
  });

  it('rotates: the successor works, the spent token is marked used', () => {
    const sessionId = newSession();
    const first = store.issue(sessionId).token;
    const second = store.rotate(first);
    expect(second).toMatchObject({ ok: true, sessionId, userId });
    if (!second.ok) throw new Error('unreachable');
    expect(second.token).not.toBe(first);
    const third = store.rotate(second.token);
    expect(third.ok).toBe(true);
    const used = db.prepare('SELECT used_at FROM refresh_tokens WHERE token_hash = ?').get(hashRefreshToken(first)) as { used_at: string | null };
    expect(used.used_at).toBe(now().toISOString());
  });

  it('revokes the whole family when a spent token comes back', () => {
    const sessionId = newSession();
    const first = store.issue(sessionId).token;
    const second = store.rotate(first);
    if (!second.ok) throw new Error('rotation failed');
    expect(sessions.isActive(sessionId, userId)).toBe(true);
    expect(store.rotate(first)).toMatchObject({ ok: false, reason: 'reused', sessionId, userId });
    expect(sessions.isActive(sessionId, userId)).toBe(false);
    // The thief or the owner, whoever holds the newer token, is out too.
    expect(store.rotate(second.token)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  describe('with a grace for a lost answer', () => {
    const GRACE_MS = 60_000;
    let graced: RefreshTokenStore;
    beforeEach(() => {
      graced = new RefreshTokenStore(db, sessions, now, GRACE_MS);
    });

    it('rotates a spent token again within the grace while its successor was never presented, and spends that successor', () => {
      const sessionId = newSession();
      const first = graced.issue(sessionId).token;
      const lost = graced.rotate(first);
      expect(lost).toMatchObject({ ok: true, replayed: false });
      ms += GRACE_MS - 1000;
      const again = graced.rotate(first);
      expect(again).toMatchObject({ ok: true, replayed: true, sessionId, userId });
      if (!lost.ok || !again.ok) throw new Error('rotation failed');
      expect(again.token).not.toBe(lost.token);
      expect(sessions.isActive(sessionId, userId)).toBe(true);
      // The new successor works; the one whose answer was lost, if it turns up after all, is a fork.
      const next = graced.rotate(again.token);
      expect(next).toMatchObject({ ok: true, replayed: false });
      expect(graced.rotate(lost.token)).toMatchObject({ ok: false, reason: 'reused' });
      expect(sessions.isActive(sessionId, userId)).toBe(false);
    });

    it('counts the grace from the first rotation: replays do not extend it', () => {
      const sessionId = newSession();
      const first = graced.issue(sessionId).token;
      graced.rotate(first);
      ms += GRACE_MS / 2;
      expect(graced.rotate(first)).toMatchObject({ ok: true, replayed: true });
      ms += GRACE_MS / 2;
      expect(graced.rotate(first)).toMatchObject({ ok: false, reason: 'reused' });
      expect(sessions.isActive(sessionId, userId)).toBe(false);
    });

    it('treats it as reuse once the successor was presented, or after the grace', () => {
      const used = newSession();
      const a = graced.issue(used).token;
      const b = graced.rotate(a);
      if (!b.ok) throw new Error('rotation failed');
      expect(graced.rotate(b.token).ok).toBe(true);
      expect(graced.rotate(a)).toMatchObject({ ok: false, reason: 'reused' });
      expect(sessions.isActive(used, userId)).toBe(false);

      const late = newSession();
      const c = graced.issue(late).token;
      graced.rotate(c);
      ms += GRACE_MS + 1;
      expect(graced.rotate(c)).toMatchObject({ ok: false, reason: 'reused' });
      expect(sessions.isActive(late, userId)).toBe(false);
    });

    it('still refuses a replay for a revoked session', () => {
      const sessionId = newSession();
      const first = graced.issue(sessionId).token;
      graced.rotate(first);
      sessions.revoke(sessionId, 'logout');
      expect(graced.rotate(first)).toMatchObject({ ok: false, reason: 'revoked' });
    });
  });

  it('leaves other families alone when one is revoked', () => {
    const a = store.issue(newSession()).token;
    const b = store.issue(newSession()).token;
    store.rotate(a);
    store.rotate(a);
    expect(store.rotate(b).ok).toBe(true);
  });

  it('refuses expired tokens, revoked sessions and strings it never issued', () => {
    const shortSession = newSession(3600 * 1000);
    const expiring = store.issue(shortSession).token;
    const revokedSession = newSession();
    const revoked = store.issue(revokedSession).token;
    sessions.revoke(revokedSession, 'logout');
    expect(store.rotate(revoked)).toMatchObject({ ok: false, reason: 'revoked' });
    ms += 3600 * 1000;
    expect(store.rotate(expiring)).toMatchObject({ ok: false, reason: 'expired' });
    expect(store.rotate('rpr_' + 'A'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });
    expect(store.rotate('eyJhbGciOiJFZERTQSJ9.e30.c2ln')).toEqual({ ok: false, reason: 'unknown' });
  });

  it('finds the session of used and unused tokens for logout, and prunes expired ones', () => {
    const sessionId = newSession(3600 * 1000);
    const first = store.issue(sessionId).token;
    const second = store.rotate(first);
    if (!second.ok) throw new Error('rotation failed');
    expect(store.sessionOf(first)).toEqual({ sessionId, userId });
    expect(store.sessionOf(second.token)).toEqual({ sessionId, userId });
    expect(store.sessionOf('rpr_nothing')).toBeUndefined();
    expect(store.pruneExpired()).toBe(0);
    ms += 3600 * 1000;
    expect(store.pruneExpired()).toBe(2);
  });

  it('lets exactly one of several processes racing with the same token rotate it', async () => {
    const sessionId = newSession();
    const token = store.issue(sessionId).token;
    const fixture = fileURLToPath(new URL('./fixtures/rotate-refresh-token.ts', import.meta.url));
    const startAt = Date.now() + 1500; // after every child has started and opened the file
    const results = await Promise.all(Array.from({ length: 4 }, () =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', fixture, join(dir, 'relay.db'), token, String(startAt)])
        .then(({ stdout }) => JSON.parse(stdout) as { ok: boolean; reason?: string })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => r.reason)).toEqual(['reused', 'reused', 'reused']);
    expect(sessions.isActive(sessionId, userId)).toBe(false);
  });
});
