import { dicomStatusCode } from '../protocol/delivery-failure-codes.js';
import type { InstanceOutcome } from '../forward/destination.js';

/** What the relay does with a C-STORE response status. */
type StatusDisposition = 'stored' | 'warning' | 'transient' | 'permanent';

interface StatusRule {
  /** The status matches when `status & mask === value`. */
  value: number;
  mask: number;
  disposition: StatusDisposition;
  meaning: string;
}

const EXACT = 0xffff;

/**
 * C-STORE response statuses (PS3.4 Annex B.2.3, Table B.2-1) and the general DIMSE statuses a
 * Storage SCP may also answer (PS3.7 Annex C), first match wins. The rule the relay follows: a
 * warning means the PACS holds the instance; a failure is retried only when the PACS says it is
 * short of resources, because every other failure would come back the same on the next attempt.
 */
const C_STORE_STATUSES: readonly StatusRule[] = [
  { value: 0x0000, mask: EXACT, disposition: 'stored', meaning: 'Success' },
  // Warnings (PS3.4 Table B.2-1): the instance is stored, possibly changed.
  { value: 0xb000, mask: EXACT, disposition: 'warning', meaning: 'Coercion of data elements' },
  { value: 0xb007, mask: EXACT, disposition: 'warning', meaning: 'Data set does not match SOP class' },
  { value: 0xb006, mask: EXACT, disposition: 'warning', meaning: 'Elements discarded' },
  // PS3.7 C.4.2 "Attribute list error" and C.4.3 "Attribute value out of range" are warnings too.
  { value: 0x0107, mask: EXACT, disposition: 'warning', meaning: 'Attribute list error' },
  { value: 0x0116, mask: EXACT, disposition: 'warning', meaning: 'Attribute value out of range' },
  { value: 0x0001, mask: EXACT, disposition: 'warning', meaning: 'Warning' },
  // Duplicate SOP Instance (PS3.7 C.5.8): the PACS already holds this SOP Instance UID, typically
  // because an earlier attempt was stored and only its response was lost. Counted as delivered.
  { value: 0x0111, mask: EXACT, disposition: 'warning', meaning: 'Duplicate SOP Instance: the PACS already holds this instance' },
  // Failures worth retrying.
  { value: 0xa700, mask: 0xff00, disposition: 'transient', meaning: 'Refused: out of resources' },
  { value: 0x0213, mask: EXACT, disposition: 'transient', meaning: 'Refused: resource limitation' },
  // Failures that a retry would repeat.
  { value: 0xa900, mask: 0xff00, disposition: 'permanent', meaning: 'Error: data set does not match SOP class' },
  { value: 0xc000, mask: 0xf000, disposition: 'permanent', meaning: 'Error: cannot understand' },
  { value: 0x0122, mask: EXACT, disposition: 'permanent', meaning: 'Refused: SOP class not supported' },
  { value: 0x0124, mask: EXACT, disposition: 'permanent', meaning: 'Refused: not authorized' },
  { value: 0x0110, mask: EXACT, disposition: 'permanent', meaning: 'Processing failure' },
  { value: 0x0117, mask: EXACT, disposition: 'permanent', meaning: 'Invalid SOP instance' },
  { value: 0x0210, mask: EXACT, disposition: 'permanent', meaning: 'Duplicate invocation' },
  { value: 0x0211, mask: EXACT, disposition: 'permanent', meaning: 'Unrecognized operation' },
  { value: 0x0212, mask: EXACT, disposition: 'permanent', meaning: 'Mistyped argument' },
];

/** Status as DICOM writes it: four hex digits. */
export function formatStatus(status: number): string {
  return status.toString(16).toUpperCase().padStart(4, '0');
}

/**
 * Turns a C-STORE response into the instance's outcome. `errorComment` (0000,0902) is the PACS's
 * own words; it describes the failure, never the patient, so it is kept in the reason.
 */
export function cStoreOutcome(status: number, errorComment?: string): InstanceOutcome {
  const hex = formatStatus(status);
  const code = dicomStatusCode(status);
  const rule = C_STORE_STATUSES.find((candidate) => (status & candidate.mask) === candidate.value);
  const comment = errorComment?.trim() ? `: ${errorComment.trim()}` : '';
  if (!rule) {
    // Not in the table: PS3.7 Annex C reserves the ranges, so an unknown code is a failure we
    // cannot reason about; retrying it blindly would loop, so it is permanent and shows its code.
    return { status: 'failed', permanent: true, reason: `the PACS answered with unknown C-STORE status ${hex}${comment}`, code };
  }
  switch (rule.disposition) {
    case 'stored':
      return { status: 'stored' };
    case 'warning':
      return { status: 'stored', warning: `C-STORE status ${hex} (${rule.meaning})${comment}` };
    case 'transient':
    case 'permanent':
      return {
        status: 'failed',
        permanent: rule.disposition === 'permanent',
        reason: `the PACS refused the instance with C-STORE status ${hex} (${rule.meaning})${comment}`,
        code,
      };
  }
}
