import type { SeededRandom } from './seeded-random.js';

/**
 * UIDs under the 2.25 root: a 128-bit random number written in decimal (PS3.5 §B.2, ITU-T X.667).
 * Needs no registered org root and stays within the 64-character limit (at most 44 characters).
 */
export function randomUid(random: SeededRandom): string {
  const bytes = random.bytes(16);
  // Mark it as a version-4 UUID, as X.667 describes, so the value is a valid UUID too.
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${bytes.toString('hex')}`).toString(10)}`;
}

/** Identifies files written by the RelayPACS test kit (0002,0012). Fixed: derived once from a UUID. */
export const TESTKIT_IMPLEMENTATION_CLASS_UID = '2.25.240531872119542914620911683546839616213';
export const TESTKIT_IMPLEMENTATION_VERSION = 'RELAYPACS_GEN_1';
