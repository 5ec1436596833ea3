import { Type } from 'typebox';
import { httpStatusCode, INSTANCE_REJECTION_CODES, type HttpStatusCode, type InstanceRejectionCode } from './error-codes.js';

/**
 * Why a delivery to a destination failed: the code stored with a failed delivery item
 * (delivery_items.failure_code), answered in upload status (instances[].destinations[].code) and
 * used as the `reason` label of relaypacs_delivery_failures_total. One spelling in all three, so
 * what an operator sees in status is what a dashboard counts.
 *
 * The named codes are the relay's own, and an instance the relay's check before sending refused
 * (destinations/study-membership.ts) keeps that check's INSTANCE_REJECTION_CODES code (e.g.
 * STUDY_UID_MISMATCH). Two families carry the status a destination answered:
 * HTTP_nnn for STOW-RS and Orthanc REST (RFC 9110 §15) and DICOM_hhhh for a C-STORE status
 * (PS3.4 Table B.2-1, PS3.7 Annex C) or a STOW-RS Failure Reason (PS3.18 §10.5.3), which are the
 * same codes. The reason stored beside the code says what it means in words.
 */
export const DELIVERY_FAILURE_CODES = {
  REFUSED: 'The destination refused the instance without a code of its own.',
  FILTERED_OUT: 'A filter configured in the destination (Orthanc) refused the instance.',
  ATTEMPTS_EXHAUSTED: 'Every attempt that delivery.maxAttempts allows failed; a person can retry it.',
  TRANSIENT: 'The attempt failed in a way worth retrying (network, busy or out of resources); it is retried.',
} as const satisfies Record<string, string>;

export type NamedDeliveryFailureCode = keyof typeof DELIVERY_FAILURE_CODES;

/** DICOM_hhhh: a DICOM status as the standard writes it, four upper-case hex digits (e.g. DICOM_A700). */
export type DicomStatusCode = `DICOM_${string}`;

export type DeliveryFailureCode = NamedDeliveryFailureCode | InstanceRejectionCode | HttpStatusCode | DicomStatusCode;

/** The code for a DICOM status or Failure Reason: 0xa700 is DICOM_A700. */
export function dicomStatusCode(status: number): DicomStatusCode {
  return `DICOM_${status.toString(16).toUpperCase().padStart(4, '0')}`;
}

export { httpStatusCode };

/** Every spelling the table and its two families allow, and nothing else. */
export const DELIVERY_FAILURE_CODE_PATTERN = `^(${[...Object.keys(DELIVERY_FAILURE_CODES), ...Object.keys(INSTANCE_REJECTION_CODES)].join('|')}|HTTP_[1-5][0-9]{2}|DICOM_[0-9A-F]{4})$`;

export function isDeliveryFailureCode(text: string): text is DeliveryFailureCode {
  return new RegExp(DELIVERY_FAILURE_CODE_PATTERN).test(text);
}

/** The wire schema of a delivery failure code (upload status). */
export const DeliveryFailureCodeWire = Type.Unsafe<DeliveryFailureCode>(Type.String({ pattern: DELIVERY_FAILURE_CODE_PATTERN }));
