import type { DestinationHttpClient, HttpAnswer } from '../destinations/destination-http.js';
import { permanentStatusReason, throwIfTransientStatus } from '../destinations/destination-http.js';
import type { ReportWatch } from '../store/reports-store.js';
import { REPORT_SERIES_MODALITIES, type CandidateDocument, type FinderInput, type FinderResult, type ReportFinder } from './report-finder.js';

/** Changes read per request (Orthanc's own maximum is 10,000) and requests per round at most. */
const CHANGES_PER_PAGE = 100;
const PAGES_PER_ROUND = 50;
/** Orthanc resource ids to study UIDs, remembered: a study's id never changes. */
const STUDY_CACHE_SIZE = 10_000;

interface OrthancChanges {
  Changes?: { ChangeType?: string; ID?: string; ResourceType?: string; Seq?: number }[];
  Done?: boolean;
  Last?: number;
}
interface OrthancSeries {
  ID?: string;
  ParentStudy?: string;
  MainDicomTags?: { Modality?: string; SeriesInstanceUID?: string };
}
interface OrthancInstance {
  ID?: string;
  MainDicomTags?: { SOPInstanceUID?: string };
}

/**
 * Reports in an Orthanc, by reading its change feed (GET /changes, from a cursor the monitor keeps):
 * one request per round however many studies are watched. A new series (NewSeries), or one that
 * received instances and settled again (StableSeries: an amendment stored into an existing series),
 * of modality SR or DOC in a watched study is listed and its instances not looked at yet are
 * fetched. With no cursor yet, or a feed that was cleared (its last sequence number is below the
 * cursor: a new Orthanc database), the feed restarts at its end and every watched study is looked
 * up directly once, so nothing stored meanwhile is missed.
 */
export class OrthancChangesFinder implements ReportFinder {
  readonly source = 'orthanc-changes' as const;
  readonly mode = 'feed' as const;
  private readonly url: string;
  private readonly studyUids = new Map<string, string>();

  constructor(url: string, private readonly http: DestinationHttpClient) {
    this.url = url.replace(/\/+$/, '');
  }

  async find(input: FinderInput): Promise<FinderResult> {
    const byStudy = new Map<string, ReportWatch[]>();
    for (const watch of input.watching) byStudy.set(watch.studyInstanceUid, [...(byStudy.get(watch.studyInstanceUid) ?? []), watch]);
    const checked = new Map<ReportWatch, number | null>(input.watching.map((w) => [w, null]));
    const candidates: CandidateDocument[] = [];
    const seriesSeen = new Set<string>();
    let cursor = input.cursor;
    const first = cursor === undefined ? (await this.getJson<OrthancChanges>('/changes?last')) ?? {} : await this.changes(cursor, CHANGES_PER_PAGE);
    if (cursor === undefined || (first.Last ?? 0) < cursor) {
      // Start (or restart) at the feed's end, and look at every watched study once instead.
      cursor = first.Last ?? 0;
      for (const [studyUid, watches] of byStudy) {
        for (const series of await this.seriesOfStudy(studyUid)) {
          if (series.ID && !seriesSeen.has(series.ID)) {
            seriesSeen.add(series.ID);
            candidates.push(...await this.candidatesOfSeries(series, watches, input));
          }
        }
      }
      return { candidates, checked, cursor };
    }
    let page = first;
    for (let round = 0; round < PAGES_PER_ROUND; round++) {
      for (const change of page.Changes ?? []) {
        if (change.ResourceType === 'Series' && (change.ChangeType === 'NewSeries' || change.ChangeType === 'StableSeries') && change.ID && !seriesSeen.has(change.ID)) {
          seriesSeen.add(change.ID);
          const series = await this.getJson<OrthancSeries>(`/series/${encodeURIComponent(change.ID)}`);
          const studyUid = series && await this.studyUidOf(series);
          const watches = studyUid === undefined ? undefined : byStudy.get(studyUid);
          if (series && watches) candidates.push(...await this.candidatesOfSeries(series, watches, input));
        }
      }
      cursor = page.Last ?? cursor;
      if (page.Done !== false) break;
      page = await this.changes(cursor, CHANGES_PER_PAGE);
    }
    return { candidates, checked, cursor };
  }

  close(): Promise<void> {
    return this.http.close();
  }

  private async changes(since: number, limit: number): Promise<OrthancChanges> {
    return (await this.getJson<OrthancChanges>(`/changes?since=${since}&limit=${limit}`)) ?? {};
  }

  private async candidatesOfSeries(series: OrthancSeries, watches: readonly ReportWatch[], input: FinderInput): Promise<CandidateDocument[]> {
    if (!series.ID || !REPORT_SERIES_MODALITIES.has((series.MainDicomTags?.Modality ?? '').trim().toUpperCase())) return [];
    const instances = (await this.getJson<OrthancInstance[]>(`/series/${encodeURIComponent(series.ID)}/instances`)) ?? [];
    const found: CandidateDocument[] = [];
    for (const watch of watches) {
      const known = await input.known(watch);
      for (const instance of instances) {
        const sopInstanceUid = instance.MainDicomTags?.SOPInstanceUID;
        if (!instance.ID || !sopInstanceUid || known.has(sopInstanceUid)) continue;
        const id = instance.ID;
        found.push({ watch, seriesInstanceUid: series.MainDicomTags?.SeriesInstanceUID ?? null, sopInstanceUid, fetch: () => this.file(id) });
      }
    }
    return found;
  }

  private async seriesOfStudy(studyUid: string): Promise<OrthancSeries[]> {
    const answer = await this.request('POST', '/tools/lookup', studyUid);
    const matches = JSON.parse(answer.body || '[]') as { Type?: string; ID?: string }[];
    const study = matches.find((m) => m.Type === 'Study' && m.ID);
    if (!study) return [];
    this.remember(study.ID!, studyUid);
    return (await this.getJson<OrthancSeries[]>(`/studies/${encodeURIComponent(study.ID!)}/series`)) ?? [];
  }

  private async studyUidOf(series: OrthancSeries): Promise<string | undefined> {
    const id = series.ParentStudy;
    if (!id) return undefined;
    const cached = this.studyUids.get(id);
    if (cached) return cached;
    const study = await this.getJson<{ MainDicomTags?: { StudyInstanceUID?: string } }>(`/studies/${encodeURIComponent(id)}`);
    const uid = study?.MainDicomTags?.StudyInstanceUID;
    if (uid) this.remember(id, uid);
    return uid;
  }

  private remember(id: string, uid: string): void {
    if (this.studyUids.size >= STUDY_CACHE_SIZE) this.studyUids.delete(this.studyUids.keys().next().value!);
    this.studyUids.set(id, uid);
  }

  private async file(id: string): Promise<Buffer> {
    const answer = await this.request('GET', `/instances/${encodeURIComponent(id)}/file`);
    if (answer.bytes === undefined) throw new Error('the instance is larger than the report size limit');
    return answer.bytes;
  }

  /** A JSON resource; undefined when Orthanc no longer has it (deleted meanwhile). */
  private async getJson<T>(path: string): Promise<T | undefined> {
    const answer = await this.request('GET', path);
    if (answer.status === 404) return undefined;
    return JSON.parse(answer.body ?? 'null') as T;
  }

  private async request(method: 'GET' | 'POST', path: string, body?: string): Promise<HttpAnswer> {
    const answer = await this.http.exchange(`${this.url}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'text/plain' }, ...(body === undefined ? {} : { body }) });
    throwIfTransientStatus(answer);
    if (answer.status === 404) return answer;
    if (answer.status !== 200) throw new Error(permanentStatusReason(answer.status) ?? `Orthanc answered HTTP ${answer.status}`);
    if (answer.bytes === undefined) throw new Error('Orthanc\'s answer is larger than the report size limit');
    return answer;
  }
}
