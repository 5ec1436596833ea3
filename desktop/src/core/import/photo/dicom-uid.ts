import { randomUUID } from 'node:crypto';

/**
 * A new UID under the 2.25 root: a random (version 4) UUID written as one decimal integer
 * (PS3.5 §B.2, ITU-T X.667). Needs no registered organisation root, is unique without
 * coordination, and is at most 44 characters, inside the 64 of the UI value representation.
 */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replaceAll('-', '')}`).toString(10)}`;
}

/**
 * Identifies RelayPACS desktop as the writer of a Part 10 file, (0002,0012) and (0002,0013)
 * (PS3.10 §7.1). Fixed: derived once from a random UUID.
 */
export const RELAYPACS_IMPLEMENTATION_CLASS_UID = '2.25.319209197918799557750470135342958222647';
export const RELAYPACS_IMPLEMENTATION_VERSION = 'RELAYPACS_1';
