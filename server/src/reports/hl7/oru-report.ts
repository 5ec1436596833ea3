import type { ReportStatus } from '../report-classification.js';
import { Hl7Message } from './hl7-message.js';

/** What an ORU^R01 says of a radiology report (HL7 v2.5.1 Chapter 7), as the relay needs it. */
export interface OruReport {
  /** MSH-10: the message's id, echoed in the ACK. */
  controlId: string;
  /** MSH-3 and MSH-4 with MSH-10: what makes a message one (a resent one is not counted twice). */
  messageKey: string;
  /** ZDS-1 (IHE RAD TF-2), or an OBX whose observation is DCM 113014 "Study Instance UID". */
  studyInstanceUid: string | undefined;
  /** OBR-18 (IHE's Placer Field 1: the accession number), else OBR-3 (the filler order number). */
  accessionNumber: string | undefined;
  status: ReportStatus;
  /** The report's text: the TX/FT/ST observations, one line per repetition. */
  text: string;
}

export type OruReading =
  | { ok: true; report: OruReport }
  /** Not a report, rightly sent (an order status): acknowledged AA, nothing kept. */
  | { ok: true; report: undefined; reason: string }
  | { ok: false; reason: string; controlId?: string };

/**
 * OBR-25 Result Status (HL7 Table 0123): F final, C corrected (an amendment), P preliminary, R
 * results stored not verified, A some results available. O (order received), I (in progress), S
 * (scheduled) and X (cancelled) carry no report: acknowledged and ignored, so an interface engine
 * does not retry them and block its queue.
 */
const STATUSES: Record<string, ReportStatus> = { F: 'final', C: 'amended', P: 'preliminary', R: 'preliminary', A: 'preliminary' };
const NO_REPORT_STATUSES = new Set(['O', 'I', 'S', 'X']);
const TEXT_VALUE_TYPES = new Set(['TX', 'FT', 'ST']);
const STUDY_UID_OBSERVATION = '113014';

export function readOru(text: string): OruReading {
  let message: Hl7Message;
  try {
    message = Hl7Message.parse(text);
  } catch (error) {
    return { ok: false, reason: (error as Error).message };
  }
  const [msh] = message.all('MSH');
  const controlId = message.field(msh, 10);
  if (!controlId) return { ok: false, reason: 'the message has no control id (MSH-10)' };
  const type = `${message.componentOf(msh, 9, 1)}^${message.componentOf(msh, 9, 2)}`;
  if (type !== 'ORU^R01') return { ok: false, reason: `the message is ${type}, not ORU^R01`, controlId };
  const [obr] = message.all('OBR');
  if (!obr) return { ok: false, reason: 'the ORU has no OBR segment', controlId };
  const code = message.componentOf(obr, 25).toUpperCase();
  if (NO_REPORT_STATUSES.has(code)) return { ok: true, report: undefined, reason: `result status (OBR-25) ${code} carries no report` };
  const status = STATUSES[code];
  if (!status) return { ok: false, reason: `result status (OBR-25) "${code}" is not a report status`, controlId };
  const observations = message.all('OBX');
  const uidObservation = observations.find((obx) => message.componentOf(obx, 3, 1) === STUDY_UID_OBSERVATION);
  const studyInstanceUid = message.componentOf(message.all('ZDS')[0], 1) || (uidObservation ? message.componentOf(uidObservation, 5) : '') || undefined;
  const accessionNumber = message.componentOf(obr, 18) || message.componentOf(obr, 3) || undefined;
  if (!studyInstanceUid && !accessionNumber) return { ok: false, reason: 'the ORU names no study (ZDS-1, OBX 113014, OBR-18, OBR-3)', controlId };
  const lines = observations.filter((obx) => TEXT_VALUE_TYPES.has(message.field(obx, 2)) && obx !== uidObservation).flatMap((obx) => message.text(obx, 5));
  const messageKey = `${message.componentOf(msh, 3)}|${message.componentOf(msh, 4)}|${controlId}`;
  return { ok: true, report: { controlId, messageKey, studyInstanceUid, accessionNumber, status, text: `${lines.join('\n').replace(/\n+$/, '')}\n` } };
}

/** The acknowledgment (HL7 v2.5.1 §2.9): AA accepted, AE error, AR rejected; MSA-3 says why, in codes and words without PHI. */
export function ackFor(original: string, code: 'AA' | 'AE' | 'AR', reason = ''): string {
  let msh: string[] | undefined;
  let message: Hl7Message | undefined;
  try {
    message = Hl7Message.parse(original);
    [msh] = message.all('MSH');
  } catch {
    message = undefined;
  }
  const field = (n: number) => (message && msh ? message.field(msh, n) : '');
  const now = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  // The ACK goes back to the sender: receiving and sending application and facility swapped.
  const header = ['MSH', '^~\\&', field(5) || 'RELAYPACS', field(6), field(3), field(4), now, '', 'ACK^R01^ACK', `ACK${field(10)}`.slice(0, 20), field(11) || 'P', field(12) || '2.5.1'];
  const sanitized = reason.replace(/[|^~\\&\r\n]/g, ' ').slice(0, 160);
  return `${header.join('|')}\rMSA|${code}|${field(10)}${sanitized ? `|${sanitized}` : ''}\r`;
}
