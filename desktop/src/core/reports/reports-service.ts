import type { ReportView } from '../../../../server/src/protocol/report-protocol.js';
import type { RelayClient } from '../upload/relay-client.js';

/** How often `waitFor` asks the relay: a report's arrival is news of minutes, not milliseconds. */
const WAIT_POLL_MS = 2_000;

export interface ReportsServiceOptions {
  /** The signed-in relay's client, or a NotSignedInError. */
  client: () => Promise<RelayClient>;
  accessToken: (rejected?: string) => Promise<string>;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The reports the relay found for this user's studies (GET /reports), for the CLI's `reports`
 * command and the desktop's report view. Ids, UIDs and states; the content is fetched only when a
 * person asks to read it.
 */
export class ReportsService {
  constructor(private readonly options: ReportsServiceOptions) {}

  /** Newest first (a page); `after` an id: the ones above it, oldest first. */
  async list(after?: number): Promise<ReportView[]> {
    const client = await this.options.client();
    return (await client.reports(await this.options.accessToken(), after)).reports;
  }

  /** The reports of one study, newest first. */
  async ofStudy(studyInstanceUid: string): Promise<ReportView[]> {
    return (await this.list()).filter((r) => r.studyInstanceUid === studyInstanceUid);
  }

  /**
   * Waits until the relay has a report of this study, asking every WAIT_POLL_MS, at most
   * `timeoutMs`: the newest report, or undefined when none came in time.
   */
  async waitFor(studyInstanceUid: string, timeoutMs: number, signal?: AbortSignal): Promise<ReportView | undefined> {
    const deadline = Date.now() + timeoutMs;
    const sleep = this.options.sleep ?? ((ms: number, s?: AbortSignal) => new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      s?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    }));
    for (;;) {
      const [newest] = await this.ofStudy(studyInstanceUid);
      if (newest) return newest;
      const left = deadline - Date.now();
      if (left <= 0 || signal?.aborted) return undefined;
      await sleep(Math.min(WAIT_POLL_MS, left), signal);
    }
  }

  async content(reportId: number): Promise<{ contentType: string; body: Buffer }> {
    const client = await this.options.client();
    return client.reportContent(await this.options.accessToken(), reportId);
  }
}
