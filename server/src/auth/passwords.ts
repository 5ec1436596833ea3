import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { MIN_PASSWORD_LENGTH } from '../protocol/auth-protocol.js';

export { MIN_PASSWORD_LENGTH };

/**
 * Argon2id with OWASP's baseline parameters (19 MiB memory, 2 iterations, 1 lane). The encoded
 * hash carries its parameters, so raising them later still verifies old hashes.
 */
// Algorithm.Argon2id is 2; the enum is a const enum, which verbatimModuleSyntax cannot import as a value.
const ARGON2ID = { algorithm: 2 as Algorithm, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;


export async function hashPassword(password: string): Promise<string> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new RangeError(`passwords need at least ${MIN_PASSWORD_LENGTH} characters`);
  return hash(password, ARGON2ID);
}

export async function verifyPassword(encodedHash: string, password: string): Promise<boolean> {
  try {
    return await verify(encodedHash, password);
  } catch {
    return false;
  }
}

/** Verifying against this when the user does not exist keeps response times alike (no user enumeration). */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hash('relaypacs-dummy-password', ARGON2ID);
  return dummyHash;
}
