// `relaypacs-relay keys list|rotate` over a real store: a rotation signs nobody out, a rotation
// with --verify-for 0 ends the old key's tokens at once (even ones verified before), audited.
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runKeysCommand } from '../../src/auth/signing-keys-cli.js';
import { SigningKeyRing } from '../../src/auth/signing-keys.js';
import { TokenService } from '../../src/auth/token-service.js';
import { openTempSqliteStore, type TempSqliteStore } from '../store/sqlite-temp-store.js';

function sink(): Writable & { text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  return Object.assign(stream, { text: () => Buffer.concat(chunks).toString('utf8') });
}

describe('relaypacs-relay keys', () => {
  let temp: TempSqliteStore;
  beforeEach(async () => {
    temp = await openTempSqliteStore();
  });
  afterEach(async () => {
    await temp.dispose();
  });
  const keys = async (args: string[]) => {
    const [stdout, stderr] = [sink(), sink()];
    const code = await runKeysCommand(args, { store: temp.store, stdout, stderr });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };
  const principal = { userId: 1, username: 'dana', role: 'radiographer' as const, sessionId: 's-1' };

  it('lists the keys without key material, rotates with the old key verifying as long as the relay\'s tokens live, and audits it', async () => {
    const ring = await SigningKeyRing.open(temp.store.signingKeys, { longestTokenSeconds: 86_400 });
    const tokens = new TokenService({ keys: ring, issuer: 'relaypacs-test', accessTokenSeconds: 600 });
    const before = await tokens.issueAccessToken(principal);
    const listed = await keys(['list']);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(ring.kids()[0]);
    expect(listed.stdout).toContain('signing');
    const [stored] = await temp.store.signingKeys.all();
    expect(listed.stdout).not.toContain(stored!.jwk.d);

    const rotated = await keys(['rotate']);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^new signing key \S+; the previous one verifies the tokens it signed until they expire\n$/);
    const [newest, retired] = await temp.store.signingKeys.all();
    expect(retired).toHaveProperty('retiredAt');
    expect(retired).not.toHaveProperty('verifyUntil');
    expect(newest).not.toHaveProperty('retiredAt');
    await ring.reload();
    expect(await tokens.verifyAccessToken(before.token)).toMatchObject({ userId: 1 });
    const after = await tokens.issueAccessToken(principal);
    expect(after.token.split('.')[0]).not.toBe(before.token.split('.')[0]); // another kid
    expect((await keys(['list'])).stdout.split('\n').filter(Boolean)).toHaveLength(3);
    const audit = await temp.store.audit.recent(10);
    expect(audit.map((row) => [row.action, row.outcome, row.address])).toContainEqual(['signing-key-rotate', 'success', 'cli']);
  });

  it('ends the old key at once with --verify-for 0, even for tokens verified before, and deletes it', async () => {
    const ring = await SigningKeyRing.open(temp.store.signingKeys, { longestTokenSeconds: 86_400 });
    const tokens = new TokenService({ keys: ring, issuer: 'relaypacs-test', accessTokenSeconds: 600 });
    const leaked = await tokens.issueAccessToken(principal);
    expect(await tokens.verifyAccessToken(leaked.token)).toMatchObject({ userId: 1 }); // now remembered
    expect((await keys(['rotate', '--verify-for', '0'])).code).toBe(0);
    await ring.reload(); // what every relay does within a minute
    await expect(tokens.verifyAccessToken(leaked.token)).rejects.toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
    expect((await keys(['rotate', '--verify-for', '0'])).stdout).toContain('1 expired key(s) deleted');
  });

  it('refuses a wrong command line with exit 2 and the usage', async () => {
    for (const args of [[], ['rotate', '--verify-for', '-1'], ['rotate', '--verify-for', 'soon'], ['rotate', '--bogus'], ['list', 'extra'], ['shred']]) {
      const result = await keys(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain('usage: relaypacs-relay keys');
    }
    expect(await temp.store.signingKeys.all()).toEqual([]);
  });
});
