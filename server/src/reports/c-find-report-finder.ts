import type { ReportWatch } from '../store/reports-store.js';
import { cFind, cGetInstance, DimseUnavailableError, type DimseQueryTarget } from './dimse-query.js';
import { mayBeReport } from './report-classification.js';
import { REPORT_SERIES_MODALITIES, type CandidateDocument, type FinderInput, type FinderResult, type ReportFinder } from './report-finder.js';

/**
 * Reports in a PACS reached by DIMSE (C-STORE destinations whose PACS offers a query/retrieve
 * service): for each due study a C-FIND at SERIES level (PS3.4 C.6.2, Study Root) names its series
 * and modalities; each SR or DOC series is listed at IMAGE level (SOP Class and Instance UIDs), and
 * the instances whose SOP class can be a report and that were not looked at yet are retrieved by
 * C-GET (PS3.4 C.4.3) on the same kind of association. The instance count compared between checks
 * is that of the report series.
 */
export class CFindReportFinder implements ReportFinder {
  readonly source = 'c-find' as const;
  readonly mode = 'poll' as const;

  constructor(private readonly target: DimseQueryTarget) {}

  async find(input: FinderInput): Promise<FinderResult> {
    const checked = new Map<ReportWatch, number | null>();
    const failed = new Set<ReportWatch>();
    const candidates: CandidateDocument[] = [];
    for (const watch of input.due) {
      try {
        const series = (await cFind(this.target, 'SERIES', { StudyInstanceUID: watch.studyInstanceUid, SeriesInstanceUID: '', Modality: '' }))
          .filter((s) => REPORT_SERIES_MODALITIES.has(String(s.Modality ?? '').trim().toUpperCase()))
          .map((s) => String(s.SeriesInstanceUID ?? ''))
          .filter(Boolean);
        let count = 0;
        const known = await input.known(watch);
        for (const seriesUid of series) {
          const instances = await cFind(this.target, 'IMAGE', { StudyInstanceUID: watch.studyInstanceUid, SeriesInstanceUID: seriesUid, SOPInstanceUID: '', SOPClassUID: '' });
          count += instances.length;
          for (const instance of instances) {
            const sopInstanceUid = String(instance.SOPInstanceUID ?? '');
            const sopClassUid = String(instance.SOPClassUID ?? '');
            if (!sopInstanceUid || known.has(sopInstanceUid) || (sopClassUid && !mayBeReport(sopClassUid))) continue;
            known.add(sopInstanceUid);
            candidates.push({
              watch, seriesInstanceUid: seriesUid, sopInstanceUid,
              fetch: () => cGetInstance(this.target, watch.studyInstanceUid, seriesUid, sopInstanceUid),
            });
          }
        }
        checked.set(watch, count);
      } catch (error) {
        // A PACS that cannot be reached fails every study alike: the round ends here rather than
        // waiting out the timeout once per study (the due watches are asked again at their interval).
        if (error instanceof DimseUnavailableError) throw error;
        failed.add(watch);
        checked.set(watch, watch.knownInstances);
      }
    }
    return { candidates, checked, failed };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
