import { DestinationHttpClient } from '../destinations/destination-http.js';
import type { DestinationConfig } from '../forward/delivery-config.js';
import { CFindReportFinder } from './c-find-report-finder.js';
import { OrthancChangesFinder } from './orthanc-changes-finder.js';
import { QidoReportFinder } from './qido-report-finder.js';
import type { ReportFinder } from './report-finder.js';

/** The longest a PACS may stay silent while it is asked about reports. */
const REPORT_QUERY_TIMEOUT_MS = 30_000;

/**
 * The finder for a destination where reports are looked for: DICOMweb (QIDO-RS) for STOW-RS
 * destinations, the change feed for Orthanc REST ones, C-FIND and C-GET for C-STORE ones that say
 * `reports` (true, or the query service's host, port and AE title). None for folders, or where a
 * destination says `reports: false`.
 */
export function createReportFinder(config: DestinationConfig, maxContentBytes: number): ReportFinder | undefined {
  if (config.kind === 'c-store') {
    // Off unless configured: the PACS must let the relay's AE query and retrieve.
    if (!config.reports) return undefined;
    const query = typeof config.reports === 'object' ? config.reports : {};
    return new CFindReportFinder({
      host: query.host ?? config.host, port: query.port ?? config.port, calledAet: query.calledAet ?? config.calledAet,
      callingAet: config.callingAet ?? 'RELAYPACS', timeoutMs: REPORT_QUERY_TIMEOUT_MS, maxBytes: maxContentBytes,
    });
  }
  if (config.kind !== 'stow-rs' && config.kind !== 'orthanc-rest') return undefined;
  if (config.reports === false) return undefined;
  const http = new DestinationHttpClient({
    auth: config.auth ?? { type: 'none' }, timeoutMs: REPORT_QUERY_TIMEOUT_MS, maxResponseBytes: maxContentBytes,
    ...(config.caFile ? { caFile: config.caFile } : {}),
  });
  return config.kind === 'stow-rs' ? new QidoReportFinder(config.url, http) : new OrthancChangesFinder(config.url, http);
}
