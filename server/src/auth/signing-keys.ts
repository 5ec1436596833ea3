import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import type { SigningKeysStore } from '../store/accounts-store.js';

/** The one algorithm the relay signs and accepts (RFC 8725 §3.1: pin it, never read it from the token). */
export const JWT_ALGORITHM = 'EdDSA';
/** The signing key's name in the store. */
export const JWT_SIGNING_KEY_PURPOSE = 'jwt';

export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/**
 * The relay's JWT signing key, from the store, generating an Ed25519 key on the first start. Relays
 * sharing a store share the key (each verifies what another signed); when several start at once,
 * the store keeps the first key written and every one of them uses it.
 */
export async function loadOrCreateSigningKeys(keys: SigningKeysStore): Promise<SigningKeys> {
  let jwk = await keys.find(JWT_SIGNING_KEY_PURPOSE);
  if (!jwk) {
    const pair = await generateKeyPair(JWT_ALGORITHM, { crv: 'Ed25519', extractable: true });
    jwk = await keys.createOnce(JWT_SIGNING_KEY_PURPOSE, await exportJWK(pair.privateKey));
  }
  return signingKeysOf(jwk);
}

async function signingKeysOf(jwk: JWK): Promise<SigningKeys> {
  const { d: _private, ...publicJwk } = jwk;
  return {
    kid: await calculateJwkThumbprint(publicJwk),
    privateKey: (await importJWK(jwk, JWT_ALGORITHM)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, JWT_ALGORITHM)) as CryptoKey,
  };
}
