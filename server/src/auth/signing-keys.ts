import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/** The one algorithm the relay signs and accepts (RFC 8725 §3.1: pin it, never read it from the token). */
export const JWT_ALGORITHM = 'EdDSA';

export interface SigningKeys {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
}

/**
 * Loads the relay's JWT signing key from DATA/keys, generating an Ed25519 key on first start.
 * The file is written with mode 0600 inside a 0700 directory: only the relay's account reads it.
 */
export async function loadOrCreateSigningKeys(dataDir: string): Promise<SigningKeys> {
  const dir = join(dataDir, 'keys');
  const path = join(dir, 'jwt-signing-key.json');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  let jwk: JWK;
  try {
    jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot read the signing key ${path}: ${(error as Error).message}`, { cause: error });
    const pair = await generateKeyPair(JWT_ALGORITHM, { crv: 'Ed25519', extractable: true });
    jwk = await exportJWK(pair.privateKey);
    // 'wx' fails if another process created it meanwhile; then we read theirs.
    await writeFile(path, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' }).catch(async (writeError: NodeJS.ErrnoException) => {
      if (writeError.code !== 'EEXIST') throw writeError;
      jwk = JSON.parse(await readFile(path, 'utf8')) as JWK;
    });
  }
  await chmod(path, 0o600);
  const { d: _private, ...publicJwk } = jwk;
  return {
    kid: await calculateJwkThumbprint(publicJwk),
    privateKey: (await importJWK(jwk, JWT_ALGORITHM)) as CryptoKey,
    publicKey: (await importJWK(publicJwk, JWT_ALGORITHM)) as CryptoKey,
  };
}
