import type { DestinationHttpClient, HttpAnswer } from '../destinations/destination-http.js';
import { permanentStatusReason, throwIfTransientStatus } from '../destinations/destination-http.js';
import { parseQidoMatches } from '../destinations/dicom-response.js';
import type { ReportWatch } from '../store/reports-store.js';
import { mayBeReport } from './report-classification.js';
import { REPORT_SERIES_MODALITIES, type CandidateDocument, type FinderInput, type FinderResult, type ReportFinder } from './report-finder.js';

/** Studies per QIDO-RS query: UID list matching (PS3.18 §8.3.4.1) keeps one query for many studies. */
export const STUDIES_PER_QUERY = 50;
/** Instances per QIDO-RS page of a report series, and pages at most (a report series holds a few). */
const PAGE = 500;
const MAX_PAGES = 20;
const STUDY_INSTANCE_UID = '0020000D';
const SERIES_INSTANCE_UID = '0020000E';
const SOP_CLASS_UID = '00080016';
const SOP_INSTANCE_UID = '00080018';
const NUMBER_OF_STUDY_RELATED_INSTANCES = '00201208';
const MODALITIES_IN_STUDY = '00080061';

/**
 * Reports in a DICOMweb PACS, by asking (PS3.18 §10.6 QIDO-RS, §10.4 WADO-RS): one study-level query
 * for up to 50 due studies names how many instances each holds now and its modalities; only a study
 * whose count changed and that holds an SR or DOC series has those series listed (paged) at instance level, and only instances whose SOP class may be a report and that were not
 * looked at yet are retrieved. A watched study that did not change costs a fiftieth of a query.
 */
export class QidoReportFinder implements ReportFinder {
  readonly source = 'qido-rs' as const;
  readonly mode = 'poll' as const;
  private readonly url: string;

  constructor(url: string, private readonly http: DestinationHttpClient) {
    this.url = url.replace(/\/+$/, '');
  }

  async find(input: FinderInput): Promise<FinderResult> {
    const checked = new Map<ReportWatch, number | null>();
    const failed = new Set<ReportWatch>();
    const candidates: CandidateDocument[] = [];
    for (let i = 0; i < input.due.length; i += STUDIES_PER_QUERY) {
      const batch = input.due.slice(i, i + STUDIES_PER_QUERY);
      const studies = await this.studySummaries(batch.map((w) => w.studyInstanceUid));
      for (const watch of batch) {
        const study = studies.get(watch.studyInstanceUid);
        checked.set(watch, study?.instances ?? null);
        // Listed only when the study changed and holds a report series at all (ModalitiesInStudy).
        if (!study || study.instances === watch.knownInstances || !study.modalities.some((m) => REPORT_SERIES_MODALITIES.has(m))) continue;
        try {
          candidates.push(...await this.candidatesOf(watch, await input.known(watch)));
        } catch {
          // One study that cannot be listed (too large an answer, a refusal) leaves the others to go on.
          failed.add(watch);
        }
      }
    }
    return { candidates, checked, failed };
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async studySummaries(studyUids: string[]): Promise<Map<string, { instances: number; modalities: string[] }>> {
    const query = `StudyInstanceUID=${[...new Set(studyUids)].map(encodeURIComponent).join(',')}`
      + `&includefield=${NUMBER_OF_STUDY_RELATED_INSTANCES}&includefield=${MODALITIES_IN_STUDY}`;
    const answer = await this.get(`${this.url}/studies?${query}`, 'application/dicom+json');
    const studies = new Map<string, { instances: number; modalities: string[] }>();
    for (const match of parseQidoMatches(answer.body ?? '')) {
      const uid = match.string(STUDY_INSTANCE_UID);
      const instances = match.number(NUMBER_OF_STUDY_RELATED_INSTANCES);
      if (uid !== undefined && instances !== undefined) studies.set(uid, { instances, modalities: match.strings(MODALITIES_IN_STUDY).map((m) => m.toUpperCase()) });
    }
    return studies;
  }

  /**
   * The not yet seen instances of the study's SR and DOC series whose SOP class can be a report:
   * series by modality first (a CT of thousands of images is never listed), then each series'
   * instances page by page (servers cap QIDO answers).
   */
  private async candidatesOf(watch: ReportWatch, known: Set<string>): Promise<CandidateDocument[]> {
    const study = encodeURIComponent(watch.studyInstanceUid);
    const found: CandidateDocument[] = [];
    for (const modality of REPORT_SERIES_MODALITIES) {
      const series = await this.get(`${this.url}/studies/${study}/series?Modality=${modality}&includefield=${SERIES_INSTANCE_UID}`, 'application/dicom+json');
      for (const seriesUid of new Set(parseQidoMatches(series.body ?? '').flatMap((m) => m.string(SERIES_INSTANCE_UID) ?? []))) {
        const seriesPath = `${this.url}/studies/${study}/series/${encodeURIComponent(seriesUid)}`;
        const listed = new Set<string>();
        let offset = 0;
        for (let page = 0; page < MAX_PAGES; page++) {
          const answer = await this.get(`${seriesPath}/instances?includefield=${SOP_CLASS_UID}&limit=${PAGE}&offset=${offset}`, 'application/dicom+json');
          const matches = parseQidoMatches(answer.body ?? '');
          const fresh = matches.filter((m) => { const uid = m.string(SOP_INSTANCE_UID); return uid !== undefined && !listed.has(uid); });
          // Done at an empty page, or when a server that ignores limit/offset answers the same again.
          if (fresh.length === 0) break;
          offset += matches.length;
          for (const match of fresh) {
            listed.add(match.string(SOP_INSTANCE_UID)!);
            const sopInstanceUid = match.string(SOP_INSTANCE_UID);
            const sopClassUid = match.string(SOP_CLASS_UID);
            if (!sopInstanceUid || !sopClassUid || !mayBeReport(sopClassUid) || known.has(sopInstanceUid)) continue;
            known.add(sopInstanceUid);
            const path = `${seriesPath}/instances/${encodeURIComponent(sopInstanceUid)}`;
            found.push({ watch, seriesInstanceUid: seriesUid, sopInstanceUid, fetch: () => this.retrieve(path) });
          }
        }
      }
    }
    return found;
  }

  /** WADO-RS retrieve of one instance (PS3.18 §10.4.1.1.1): a multipart/related answer of one application/dicom part. */
  private async retrieve(url: string): Promise<Buffer> {
    const answer = await this.get(url, 'multipart/related; type="application/dicom"');
    if (answer.bytes === undefined) throw new Error('the retrieved instance is larger than the report size limit');
    const parts = multipartParts(answer.bytes, answer.headers.get('content-type'));
    if (parts.length === 0) throw new Error('the WADO-RS answer holds no part');
    return parts[0]!;
  }

  private async get(url: string, accept: string): Promise<HttpAnswer> {
    const answer = await this.http.exchange(url, { method: 'GET', headers: { accept } });
    throwIfTransientStatus(answer);
    if (answer.status === 204 || answer.status === 404) return { ...answer, body: '', bytes: Buffer.alloc(0) };
    if (answer.status !== 200) throw new Error(permanentStatusReason(answer.status) ?? `the destination answered a DICOMweb query with HTTP ${answer.status}`);
    if (answer.bytes === undefined) throw new Error('the DICOMweb answer is larger than the report size limit');
    return answer;
  }
}

/**
 * The bodies of a multipart answer (RFC 2046 §5.1.1, RFC 2387): the boundary from the media type,
 * each body between a delimiter line's CRLF and the CRLF before the next delimiter.
 */
export function multipartParts(body: Buffer, contentType: string | null): Buffer[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
  if (!boundary) throw new Error('the multipart answer names no boundary');
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const afterDelimiter = at + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString('latin1') === '--') break;
    const headersEnd = body.indexOf('\r\n\r\n', afterDelimiter);
    if (headersEnd === -1) break;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd + 4);
    if (next === -1) break;
    parts.push(body.subarray(headersEnd + 4, next));
    at = next + 2;
  }
  return parts;
}
