/**
 * A UI value is padded to even length with one trailing NUL (PS3.5 §6.2, §9.1); some writers pad
 * with a space instead, or with several. Compare UIDs only after removing that padding.
 */
export function normalizeUid(value: string): string {
  return value.replace(/^[\0 ]+|[\0 ]+$/g, '');
}

/** Digits and dots, at most 64 characters (PS3.5 §9.1). Leading zeros are tolerated: they occur in the wild. */
export function isWellFormedUid(value: string): boolean {
  return value.length > 0 && value.length <= 64 && /^[0-9]+(\.[0-9]+)*$/.test(value);
}

/** The longest UI value the validator will read; anything longer is not a UID (PS3.5 §6.2: 64 bytes). */
export const MAX_UID_BYTES = 256;
