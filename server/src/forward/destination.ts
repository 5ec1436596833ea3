import type { Readable } from 'node:stream';
import type { DeliveryFailureCode } from '../protocol/delivery-failure-codes.js';

/**
 * A place studies are delivered to: DICOMweb STOW-RS, Orthanc REST, DICOM C-STORE or a local
 * folder. The delivery queue talks to every kind through this interface only; each
 * implementation passes server/test/destinations/destination-contract.ts.
 */
export interface Destination {
  /** Configured name, e.g. "main-pacs"; appears in status, audit and metrics. */
  readonly name: string;
  readonly kind: DestinationKind;
  /** How many instances and bytes the queue may hand over in one store() call. */
  readonly batchLimits: { maxInstances: number; maxBytes: number };
  /**
   * Stores a batch of instances of one study. Answers one outcome per instance (keyed by SOP
   * Instance UID): a PACS may accept some and refuse others. Throws TransientDestinationError when
   * the whole batch failed in a way worth retrying (network down, 503, association refused for lack
   * of resources); any other throw is a bug and is treated as transient too.
   */
  store(study: StudyContext, instances: readonly InstanceToSend[]): Promise<Map<string, InstanceOutcome>>;
  /**
   * Optional confirmation after storing: which of these instances the destination really holds
   * (QIDO-RS, Orthanc REST lookup). Absent when the destination cannot be queried.
   */
  confirm?(study: StudyContext, sopInstanceUids: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

export type DestinationKind = 'stow-rs' | 'orthanc-rest' | 'c-store' | 'folder';

export interface StudyContext {
  uploadId: string;
  studyInstanceUid: string;
  serviceLevel: 'STAT' | 'ROUTINE';
}

export interface InstanceToSend {
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  size: number;
  /** A fresh stream of the complete Part 10 file each call (retries reopen it). */
  open(): Readable;
}

export type InstanceOutcome =
  /** Stored; a warning (e.g. PS3.18 WarningReason, C-STORE warning status) is kept and shown. */
  | { status: 'stored'; warning?: string }
  /** Not stored. Permanent failures are not retried; transient ones are, with backoff. */
  | { status: 'failed'; permanent: boolean; reason: string; code?: DeliveryFailureCode };

export class TransientDestinationError extends Error {
  constructor(message: string, readonly retryAfterSeconds?: number, options?: { cause?: unknown }) {
    super(message, options);
  }
}
