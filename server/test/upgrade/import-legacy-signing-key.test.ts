// Upgrading a relay whose signing key is still DATA/keys/jwt-signing-key.json (before the shared
// store): the first start imports it, so tokens signed before the upgrade keep verifying.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JWT_ALGORITHM } from '../../src/auth/signing-keys.js';
import { TokenService } from '../../src/auth/token-service.js';
import { parseRelayConfig, type RelayConfig } from '../../src/config/relay-config.js';
import { createRelayServices } from '../../src/relay-services.js';
import type { SqliteRelayStore } from '../../src/store/sqlite/sqlite-relay-store.js';

describe('the signing key of a relay upgraded to the shared store', () => {
  let dataDir: string;
  let config: RelayConfig;
  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'relaypacs-upgrade-'));
    config = parseRelayConfig({ dataDir, port: 0 });
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  /** What a relay before the store wrote at its first start, and a token it signed. */
  async function legacyRelayToken(): Promise<{ token: string; kid: string }> {
    const pair = await generateKeyPair(JWT_ALGORITHM, { crv: 'Ed25519', extractable: true });
    const jwk = await exportJWK(pair.privateKey);
    await mkdir(join(dataDir, 'keys'), { mode: 0o700 });
    await writeFile(join(dataDir, 'keys', 'jwt-signing-key.json'), JSON.stringify(jwk), { mode: 0o600 });
    const { d: _private, ...publicJwk } = jwk;
    const kid = await calculateJwkThumbprint(publicJwk);
    const publicKey = (await importJWK(publicJwk, JWT_ALGORITHM)) as CryptoKey;
    const keys = { signing: () => ({ kid, privateKey: pair.privateKey }), verificationKey: async () => publicKey, verifies: () => true };
    const tokens = new TokenService({ keys, issuer: config.auth.issuer, accessTokenSeconds: 600 });
    const { token } = await tokens.issueAccessToken({ userId: 1, username: 'alice', role: 'radiographer', sessionId: 's-1' });
    return { token, kid };
  }

  it('imports the key file at the first start, so tokens signed before the upgrade still verify, on every relay', async () => {
    const legacy = await legacyRelayToken();
    const first = await createRelayServices(config);
    try {
      expect(await first.tokens.verifyAccessToken(legacy.token)).toMatchObject({ userId: 1, sessionId: 's-1' });
      // A second relay on the same store (the key file no longer matters to it) uses the same key.
      await rm(join(dataDir, 'keys'), { recursive: true });
      const second = await createRelayServices(config);
      try {
        expect(await second.tokens.verifyAccessToken(legacy.token)).toMatchObject({ userId: 1 });
        const fresh = await second.tokens.issueAccessToken({ userId: 2, username: 'bob', role: 'admin', sessionId: 's-2' });
        expect(await first.tokens.verifyAccessToken(fresh.token)).toMatchObject({ userId: 2 });
        expect((first.store as SqliteRelayStore).database.prepare('SELECT COUNT(*) AS n FROM jwt_signing_keys').get()).toEqual({ n: 1 });
      } finally {
        await second.close();
      }
    } finally {
      await first.close();
    }
  });

  it('keeps the stored key over a key file that turns up later', async () => {
    const before = await createRelayServices(config);
    const fresh = await before.tokens.issueAccessToken({ userId: 3, username: 'carol', role: 'admin', sessionId: 's-3' });
    await before.close();
    await legacyRelayToken();
    const after = await createRelayServices(config);
    try {
      expect(await after.tokens.verifyAccessToken(fresh.token)).toMatchObject({ userId: 3 });
    } finally {
      await after.close();
    }
  });

  it('creates one key when relays without a key file start together', async () => {
    const relays = await Promise.all([createRelayServices(config), createRelayServices(config)]);
    try {
      const token = (await relays[0].tokens.issueAccessToken({ userId: 4, username: 'dan', role: 'admin', sessionId: 's-4' })).token;
      expect(await relays[1].tokens.verifyAccessToken(token)).toMatchObject({ userId: 4 });
    } finally {
      await Promise.all(relays.map((relay) => relay.close()));
    }
  });
});
