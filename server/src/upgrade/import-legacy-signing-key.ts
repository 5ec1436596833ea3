import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { JWK } from 'jose';
import type { SigningKeysStore } from '../store/accounts-store.js';

/**
 * Relays before the shared store kept their JWT signing key in DATA/keys/jwt-signing-key.json. The
 * first start after the upgrade moves that key into the store, so access and upload tokens signed
 * before it still verify and nobody is signed out. A store that has a key already keeps it (another
 * relay started first, or this one was upgraded before). The file is left in place, unused, so a
 * downgrade still finds it.
 */
export async function importLegacySigningKey(dataDir: string, keys: SigningKeysStore): Promise<'imported' | 'none'> {
  if ((await keys.all()).length > 0) return 'none';
  const path = join(dataDir, 'keys', 'jwt-signing-key.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'none';
    throw new Error(`cannot read the signing key ${path}: ${(error as Error).message}`, { cause: error });
  }
  let jwk: JWK;
  try {
    jwk = JSON.parse(text) as JWK;
  } catch (error) {
    throw new Error(`the signing key ${path} is not JSON`, { cause: error });
  }
  return (await keys.addFirst(jwk)) ? 'imported' : 'none';
}
