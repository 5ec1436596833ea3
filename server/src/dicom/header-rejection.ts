import type { InstanceRejectionCode } from '../protocol/error-codes.js';

/**
 * Thrown inside the header walk when the instance must be rejected; validatePart10 turns it into
 * `{ ok: false }`. Reasons name tags and sizes, never attribute values (no PHI).
 */
export class HeaderRejection extends Error {
  constructor(readonly code: InstanceRejectionCode, readonly reason: string) {
    super(reason);
    this.name = 'HeaderRejection';
  }
}

/**
 * Wraps an error thrown by the caller's byte reader, so it can be told apart from a parse problem
 * and re-thrown unchanged: a storage failure is the relay's problem, not the instance's.
 */
export class StorageReadFailure extends Error {
  constructor(override readonly cause: unknown) {
    super('reading the stored instance failed', { cause });
    this.name = 'StorageReadFailure';
  }
}

/** "(0008,0018)" — how DICOM writes a tag (PS3.5 §7.1). */
export function formatTag(group: number, element: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
  return `(${hex(group)},${hex(element)})`;
}
