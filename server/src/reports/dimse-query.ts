import dimse from 'dcmjs-dimse';
import type { Dataset } from 'dcmjs-dimse';
import { encodeFileMeta } from '@relaypacs/dicom';

const { Client } = dimse;
const { CFindRequest, CGetRequest } = dimse.requests;
const { CStoreResponse } = dimse.responses;
const { Status } = dimse.constants;

/** A PACS's query/retrieve service (PS3.4 Annex C), as the relay calls it. */
export interface DimseQueryTarget {
  host: string;
  port: number;
  callingAet: string;
  calledAet: string;
  /** Connect, association, and the longest silence of the peer. */
  timeoutMs: number;
}

/** Matches of one C-FIND at most: a watched study has a handful of report series and documents. */
const MAX_MATCHES = 5_000;
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const IMPLEMENTATION_CLASS_UID = '2.25.191360466218963926389226213593962616745';

/**
 * C-FIND at the given level (PS3.4 C.4.1, Study Root): the identifiers of the matches, each a
 * record of the keys asked for. Rejects on a failure status, a network error or silence.
 */
export function cFind(target: DimseQueryTarget, level: 'SERIES' | 'IMAGE', keys: Record<string, string>): Promise<Record<string, unknown>[]> {
  const request = level === 'SERIES'
    ? CFindRequest.createSeriesFindRequest(keys)
    : CFindRequest.createImageFindRequest(keys);
  return new Promise((resolve, reject) => {
    const client = new Client();
    const matches: Record<string, unknown>[] = [];
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(matches);
    };
    request.on('response', (response) => {
      const status = response.getStatus();
      if (status === Status.Pending && response.hasDataset()) {
        if (matches.length >= MAX_MATCHES) {
          client.cancel(request);
          return;
        }
        matches.push(response.getDataset()!.getElements());
      } else if (status !== Status.Pending) {
        if (status === Status.Success || status === Status.Cancel) done();
        else done(new Error(`the PACS answered the C-FIND with status 0x${status.toString(16).toUpperCase().padStart(4, '0')}`));
      }
    });
    client.on('networkError', (error: Error) => done(new Error(`the PACS's query service could not be reached: ${error.message}`)));
    client.on('closed', () => done(settled ? undefined : new Error('the PACS closed the association before the C-FIND ended')));
    client.addRequest(request);
    client.send(target.host, target.port, target.callingAet, target.calledAet, {
      connectTimeout: target.timeoutMs, associationTimeout: target.timeoutMs, pduTimeout: target.timeoutMs,
    });
  });
}

/**
 * C-GET of one instance (PS3.4 C.4.3): the PACS sends it back on the same association as a C-STORE
 * sub-operation, which is answered Success; answers it as a Part 10 file (explicit VR little endian,
 * as dcmjs re-encodes it: the content is read, not forwarded, so byte fidelity is not needed).
 */
export function cGetInstance(target: DimseQueryTarget, studyUid: string, seriesUid: string, sopUid: string): Promise<Buffer> {
  const request = CGetRequest.createImageGetRequest(studyUid, seriesUid, sopUid);
  // The storage SOP classes are proposed so the PACS can send the instance back (PS3.4 C.4.3.1).
  request.setAddStorageSopClassesToAssociation(true);
  return new Promise((resolve, reject) => {
    const client = new Client();
    let received: Dataset | undefined;
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else if (!received) reject(new Error('the PACS sent nothing for the C-GET'));
      else resolve(part10Of(received, sopUid));
    };
    client.on('cStoreRequest', (store: { getDataset(): Dataset | undefined }, callback: (response: unknown) => void) => {
      received ??= store.getDataset();
      const response = CStoreResponse.fromRequest(store as never);
      response.setStatus(Status.Success);
      callback(response);
    });
    request.on('response', (response) => {
      const status = response.getStatus();
      if (status === Status.Pending) return;
      // 0xB000: sub-operations complete with failures or warnings (PS3.4 Table C.4-3): what was sent is here.
      if (status === Status.Success || (status & 0xf000) === 0xb000) done();
      else done(new Error(`the PACS answered the C-GET with status 0x${status.toString(16).toUpperCase().padStart(4, '0')}`));
    });
    client.on('networkError', (error: Error) => done(new Error(`the PACS's retrieve service could not be reached: ${error.message}`)));
    client.on('closed', () => done());
    client.addRequest(request);
    client.send(target.host, target.port, target.callingAet, target.calledAet, {
      connectTimeout: target.timeoutMs, associationTimeout: target.timeoutMs, pduTimeout: target.timeoutMs,
    });
  });
}

function part10Of(dataset: Dataset, sopUid: string): Buffer {
  const elements = dataset.getElements();
  const sopClassUid = String(elements.SOPClassUID ?? '');
  dataset.setTransferSyntaxUid(EXPLICIT_VR_LITTLE_ENDIAN);
  const body = dataset.getDenaturalizedDataset();
  const meta = encodeFileMeta({
    sopClassUid, sopInstanceUid: sopUid, transferSyntaxUid: EXPLICIT_VR_LITTLE_ENDIAN,
    implementationClassUid: IMPLEMENTATION_CLASS_UID, implementationVersionName: 'RELAYPACS',
  });
  return Buffer.concat([meta, body]);
}
