import dimse from 'dcmjs-dimse';
import type { Dataset } from 'dcmjs-dimse';
import { encodeFileMeta } from '@relaypacs/dicom';

const { Client } = dimse;
const { CFindRequest, CGetRequest } = dimse.requests;
const { CStoreResponse } = dimse.responses;
const { PresentationContext } = dimse.association;
const { Status } = dimse.constants;

/** A PACS's query/retrieve service (PS3.4 Annex C), as the relay calls it. */
export interface DimseQueryTarget {
  host: string;
  port: number;
  callingAet: string;
  calledAet: string;
  /** Connect, association, the longest silence of the peer, and (times 4) a whole exchange. */
  timeoutMs: number;
  /** A retrieved instance larger than this is refused (the association aborted): memory stays bounded. */
  maxBytes: number;
}

/** The query service could not be reached or dropped the association: every study of the round would fail alike. */
export class DimseUnavailableError extends Error {}

/** Pending statuses of C-FIND (PS3.4 Table C.4-1): FF00, and FF01 (optional keys not supported). */
const isPending = (status: number) => (status & 0xff00) === 0xff00;

/** Matches of one C-FIND at most: a watched study has a handful of report series and documents. */
const MAX_MATCHES = 5_000;
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';
/** Comprehensive 3D SR and Extensible SR (PS3.4 Table B.5-1): report classes not in dcmjs-dimse's storage list. */
const EXTRA_STORAGE_CLASSES = ['1.2.840.10008.5.1.4.1.1.88.34', '1.2.840.10008.5.1.4.1.1.88.35'];
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
      clearTimeout(deadline);
      if (error) reject(error);
      else resolve(matches);
    };
    // The whole exchange is bounded: the PDU timeout restarts with every PDU.
    const deadline = setTimeout(() => {
      done(new DimseUnavailableError(`the PACS did not finish the C-FIND within ${(target.timeoutMs * 4) / 1000} s`));
      client.abort();
    }, target.timeoutMs * 4);
    deadline.unref();
    request.on('response', (response) => {
      const status = response.getStatus();
      if (isPending(status) && response.hasDataset()) {
        if (matches.length >= MAX_MATCHES) {
          client.cancel(request);
          return;
        }
        matches.push(response.getDataset()!.getElements());
      } else if (!isPending(status)) {
        if (status === Status.Success || status === Status.Cancel) done();
        else done(new Error(`the PACS answered the C-FIND with status 0x${status.toString(16).toUpperCase().padStart(4, '0')}`));
      }
    });
    client.on('networkError', (error: Error) => done(new DimseUnavailableError(`the PACS's query service could not be reached: ${error.message}`)));
    client.on('closed', () => done(new DimseUnavailableError('the PACS closed the association before the C-FIND ended')));
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
  // The storage SOP classes are proposed so the PACS can send the instance back (PS3.4 C.4.3.1),
  // with the report SR classes dcmjs-dimse's list lacks.
  request.setAddStorageSopClassesToAssociation(true);
  return new Promise((resolve, reject) => {
    const client = new Client();
    for (const uid of EXTRA_STORAGE_CLASSES) {
      for (const syntax of [EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN]) {
        client.addAdditionalPresentationContext(new PresentationContext(0, uid, syntax, undefined, false, true), true);
      }
    }
    let received: Dataset | undefined;
    let settled = false;
    const done = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearInterval(meter);
      if (error) return reject(error);
      if (!received) return reject(new Error('the PACS sent nothing for the C-GET'));
      try {
        resolve(part10Of(received, sopUid));
      } catch (cause) {
        reject(new Error('the retrieved instance could not be encoded again', { cause }));
      }
    };
    // The whole exchange is bounded (the PDU timeout restarts with every PDU, so a PACS trickling
    // data would never be cut off), and so are the bytes received: dcmjs-dimse holds a
    // sub-operation's data set whole in memory.
    const deadline = setTimeout(() => {
      done(new DimseUnavailableError(`the PACS did not finish the C-GET within ${(target.timeoutMs * 4) / 1000} s`));
      client.abort();
    }, target.timeoutMs * 4);
    deadline.unref();
    const meter = setInterval(() => {
      if (client.getStatistics().getBytesReceived() > target.maxBytes) {
        done(new Error('the retrieved instance is larger than the report size limit'));
        client.abort();
      }
    }, 50);
    meter.unref();
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
    client.on('networkError', (error: Error) => done(new DimseUnavailableError(`the PACS's retrieve service could not be reached: ${error.message}`)));
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
