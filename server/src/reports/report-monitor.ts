import { readPart10Tree, TAG } from '@relaypacs/dicom';
import type { RelayEventBus } from '../ops/relay-events.js';
import type { RelayStore } from '../store/relay-store.js';
import type { ReportWatch } from '../store/reports-store.js';
import { classifyReport, type ReportClassificationSettings, type ReportStatus } from './report-classification.js';
import type { CandidateDocument, ReportFinder } from './report-finder.js';

/** The job lease under which one relay at a time looks for reports (job-leases-store.ts). */
const REPORTS_JOB = 'reports';
/** Due watches of one destination checked per round at most: the rest are due next round. */
const WATCHES_PER_ROUND = 500;
/**
 * A document that cannot be fetched is set aside as no report once it failed this many times over
 * at least SET_ASIDE_AFTER_MS: a PACS down for a while does not lose a report, and one document
 * that never comes does not hold an Orthanc feed's cursor back for more than that.
 */
const TRIES_PER_DOCUMENT = 3;
const SET_ASIDE_AFTER_MS = 3_600_000;
/** Documents whose failed tries are counted, at most (oldest forgotten first). */
const FAILURES_KEPT = 10_000;
/** The lease is renewed after this many documents examined (and before each destination). */
const DOCUMENTS_PER_RENEWAL = 10;

class LeaseLost extends Error {}

export interface ReportPolicy extends ReportClassificationSettings {
  firstIntervalSeconds: number;
  maxIntervalSeconds: number;
  feedIntervalSeconds: number;
  watchDays: number;
  followAmendments: boolean;
  keepContentDays: number;
}

export interface ReportMonitorOptions {
  store: RelayStore;
  events: RelayEventBus;
  /** The finder of each destination reports are looked for in, by destination name. */
  finders: ReadonlyMap<string, ReportFinder>;
  /**
   * Watch studies delivered to any destination, with a finder or not: a RIS's HL7 reports are
   * matched against the watches, whatever PACS holds the study (reports/hl7).
   */
  watchEveryDestination?: boolean;
  policy: ReportPolicy;
  instanceName: string;
  now: () => Date;
  log: () => { info(obj: object, msg: string): void; warn(obj: object, msg: string): void } | undefined;
  /** Counts what rounds find (relay-metrics.ts). */
  onReport?: (destination: string, status: ReportStatus) => void;
  onPacsRequest?: (destination: string) => void;
}

export interface RoundSummary {
  /** False when another relay holds the job. */
  ran: boolean;
  reports: number;
  notReports: number;
  failures: number;
}

/**
 * Learns when the radiologist's report of a delivered study is in the PACS, and tells the sender.
 * A study is watched per destination from when that destination has it all (watchDelivered) until
 * its final report, or for watchDays. Each round (one relay at a time among relays sharing the
 * database: the 'reports' job lease) asks each destination's finder for documents not looked at
 * yet, fetches each once, classifies it (report-classification.ts), records a report with its
 * content and publishes a `report` event (ids and status, no PHI), or remembers that it is none.
 * Polled watches back off from firstIntervalSeconds, doubling while nothing changes, up to
 * maxIntervalSeconds. A failure of one destination or one document leaves the rest to go on and
 * is looked at again next round: nothing is marked looked-at that was not.
 */
export class ReportMonitor {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private readonly nextFeedAt = new Map<string, number>();
  /** Failed tries by `${destination}/${SOP Instance UID}`, and when the first was: a document that keeps failing must not hold the feed back. */
  private readonly failures = new Map<string, { tries: number; since: number }>();

  constructor(private readonly options: ReportMonitorOptions) {}

  /** Whether reports are looked for in this destination. */
  follows(destination: string): boolean {
    return this.options.finders.has(destination);
  }

  /** Starts watching a study a destination now holds; nothing for a destination without a finder. */
  async watchDelivered(watch: { uploadId: string; destination: string; studyInstanceUid: string; userId: number }): Promise<void> {
    if (!this.follows(watch.destination) && !this.options.watchEveryDestination) return;
    const now = this.options.now().getTime();
    const { firstIntervalSeconds, watchDays } = this.options.policy;
    await this.options.store.reports.watch({
      ...watch, intervalSeconds: firstIntervalSeconds,
      nextCheckAt: new Date(now + firstIntervalSeconds * 1000).toISOString(),
      until: new Date(now + watchDays * 86_400_000).toISOString(),
    });
  }

  start(): void {
    if (this.options.finders.size === 0 || this.timer) return;
    const tickMs = Math.min(5_000, this.options.policy.feedIntervalSeconds * 1000, this.options.policy.firstIntervalSeconds * 1000);
    const tick = () => {
      this.running = this.round().catch((error: unknown) => this.options.log()?.warn({ err: errorSummary(error) }, 'looking for reports failed'))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) {
            this.timer = setTimeout(tick, tickMs);
            this.timer.unref();
          }
        });
    };
    this.timer = setTimeout(tick, tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.options.store.jobLeases.release(REPORTS_JOB, this.options.instanceName).catch(() => undefined);
    await Promise.allSettled([...this.options.finders.values()].map((f) => f.close()));
  }

  /** One round over every destination; exposed for tests and for the first round after a start. */
  async round(): Promise<RoundSummary> {
    const { store, policy } = this.options;
    const started = this.options.now();
    const summary: RoundSummary = { ran: false, reports: 0, notReports: 0, failures: 0 };
    if (!(await this.renewLease())) return summary;
    summary.ran = true;
    await store.reports.expireWatches(started.toISOString());
    await store.reports.dropContentBefore(new Date(started.getTime() - policy.keepContentDays * 86_400_000).toISOString());
    for (const [destination, finder] of this.options.finders) {
      if (this.stopped) break;
      try {
        if (!(await this.renewLease())) throw new LeaseLost();
        await this.check(destination, finder, summary);
      } catch (error) {
        // Another relay holds the job now (this round took longer than the lease): it goes on from here.
        if (error instanceof LeaseLost) break;
        summary.failures++;
        this.options.log()?.warn({ destination, err: errorSummary(error) }, 'could not look for reports in this destination; trying again next round');
      }
    }
    return summary;
  }

  private async check(destination: string, finder: ReportFinder, summary: RoundSummary): Promise<void> {
    const { store, policy } = this.options;
    const now = this.options.now();
    let due: ReportWatch[] = [];
    let watching: ReportWatch[] = [];
    let cursor: number | undefined;
    if (finder.mode === 'poll') {
      due = await store.reports.dueWatches(destination, now.toISOString(), WATCHES_PER_ROUND);
      if (due.length === 0) return;
    } else {
      if (now.getTime() < (this.nextFeedAt.get(destination) ?? 0)) return;
      this.nextFeedAt.set(destination, now.getTime() + policy.feedIntervalSeconds * 1000);
      watching = await store.reports.watching(destination);
      cursor = await store.reports.cursor(destination);
      if (watching.length === 0 && cursor !== undefined) {
        // Nothing to match: the feed's position need not move, so the PACS is not asked at all.
        return;
      }
    }
    this.options.onPacsRequest?.(destination);
    let result;
    try {
      result = await finder.find({ due, watching, cursor, known: (watch) => store.reports.knownDocuments(watch) });
    } catch (error) {
      // A PACS that does not answer is asked again after each due watch's interval, not every round.
      for (const watch of due) await this.reschedule(watch, [], watch.knownInstances);
      throw error;
    }
    // The PACS may have taken a while: this relay must still hold the job before it writes.
    if (!(await this.renewLease())) throw new LeaseLost();
    const found = new Map<ReportWatch, ReportStatus[]>();
    const unfinished = new Set<ReportWatch>(result.failed ?? []);
    summary.failures += result.failed?.size ?? 0;
    for (const [index, candidate] of result.candidates.entries()) {
      if (this.stopped) return;
      if (index > 0 && index % DOCUMENTS_PER_RENEWAL === 0 && !(await this.renewLease())) throw new LeaseLost();
      try {
        const status = await this.examine(destination, finder, candidate, summary);
        if (status) found.set(candidate.watch, [...(found.get(candidate.watch) ?? []), status]);
        this.failures.delete(`${destination}/${candidate.sopInstanceUid}`);
      } catch (error) {
        summary.failures++;
        if (await this.givenUp(destination, candidate, error)) continue;
        unfinished.add(candidate.watch);
        this.options.log()?.warn({ destination, err: errorSummary(error) }, 'could not fetch or read a document that may be a report; trying again next round');
      }
    }
    for (const [watch, count] of result.checked) {
      // A watch with a document not examined keeps its old count, so the next check lists it again.
      await this.reschedule(watch, found.get(watch) ?? [], unfinished.has(watch) ? watch.knownInstances : count, finder.mode);
    }
    // The feed's position moves only once everything it named was examined.
    if (result.cursor !== undefined && unfinished.size === 0) await store.reports.setCursor(destination, result.cursor, now.toISOString());
  }

  /** Takes (or renews) the job's lease for a while; false when another relay holds it. */
  private renewLease(): Promise<boolean> {
    const now = this.options.now();
    const until = new Date(now.getTime() + Math.max(60_000, this.options.policy.feedIntervalSeconds * 3_000)).toISOString();
    return this.options.store.jobLeases.acquire(REPORTS_JOB, this.options.instanceName, now.toISOString(), until);
  }

  /**
   * Counts a failed try of a document. One too large to fetch, or that failed TRIES_PER_DOCUMENT
   * times over at least SET_ASIDE_AFTER_MS, is set aside as no report (remembered, with the reason in the log), so it neither holds
   * a change feed's cursor back nor is downloaded at every check.
   */
  private async givenUp(destination: string, candidate: CandidateDocument, error: unknown): Promise<boolean> {
    const key = `${destination}/${candidate.sopInstanceUid}`;
    const now = this.options.now().getTime();
    const earlier = this.failures.get(key);
    const tries = (earlier?.tries ?? 0) + 1;
    const since = earlier?.since ?? now;
    const tooLarge = errorSummary(error).includes('larger than the report size limit');
    if (!tooLarge && (tries < TRIES_PER_DOCUMENT || now - since < SET_ASIDE_AFTER_MS)) {
      if (!earlier && this.failures.size >= FAILURES_KEPT) this.failures.delete(this.failures.keys().next().value!);
      this.failures.set(key, { tries, since });
      return false;
    }
    this.failures.delete(key);
    await this.options.store.reports.rememberNotReport(destination, candidate.watch.studyInstanceUid, candidate.sopInstanceUid, this.options.now().toISOString());
    this.options.log()?.warn({ destination, uploadId: candidate.watch.uploadId, tries, err: errorSummary(error) }, 'a document that may be a report could not be read; set aside');
    return true;
  }

  /** Fetches, reads and classifies one document; records it; answers the status of a new report. */
  private async examine(destination: string, finder: ReportFinder, candidate: CandidateDocument, summary: RoundSummary): Promise<ReportStatus | undefined> {
    const { store, policy } = this.options;
    const { watch } = candidate;
    const now = this.options.now().toISOString();
    const bytes = await candidate.fetch();
    let classification;
    try {
      const { dataSet } = await readPart10Tree(bytes);
      classification = dataSet.uid(TAG.StudyInstanceUID) === watch.studyInstanceUid
        ? classifyReport(dataSet, policy)
        : { report: false as const, reason: 'the document belongs to another study' };
    } catch (error) {
      classification = { report: false as const, reason: `the document cannot be read: ${errorSummary(error)}` };
    }
    if (!classification.report) {
      summary.notReports++;
      await store.reports.rememberNotReport(destination, watch.studyInstanceUid, candidate.sopInstanceUid, now);
      this.options.log()?.info({ destination, uploadId: watch.uploadId, reason: classification.reason }, 'a document in a watched study is not a report');
      return undefined;
    }
    const { id, created } = await store.reports.record({
      uploadId: watch.uploadId, destination, userId: watch.userId, studyInstanceUid: watch.studyInstanceUid,
      seriesInstanceUid: candidate.seriesInstanceUid, sopInstanceUid: candidate.sopInstanceUid, kind: classification.kind,
      status: classification.status, title: classification.title ?? null, source: finder.source, detectedAt: now, content: bytes,
    });
    if (!created) return undefined;
    summary.reports++;
    this.options.events.publish(watch.userId, {
      type: 'report', uploadId: watch.uploadId, reportId: id, destination, status: classification.status, kind: classification.kind,
    });
    this.options.onReport?.(destination, classification.status);
    this.options.log()?.info({ destination, uploadId: watch.uploadId, reportId: id, status: classification.status, kind: classification.kind }, 'report found');
    return classification.status;
  }

  private async reschedule(watch: ReportWatch, found: ReportStatus[], knownInstances: number | null, mode: 'poll' | 'feed' = 'poll'): Promise<void> {
    const { policy } = this.options;
    const final = found.some((status) => status === 'final' || status === 'amended');
    const state = final && !policy.followAmendments ? 'done' : 'watching';
    const intervalSeconds = final ? policy.maxIntervalSeconds
      : found.length > 0 ? policy.firstIntervalSeconds
        : mode === 'feed' ? watch.intervalSeconds : Math.min(policy.maxIntervalSeconds, watch.intervalSeconds * 2);
    const nextCheckAt = new Date(this.options.now().getTime() + intervalSeconds * 1000).toISOString();
    if (mode === 'feed' && state === watch.state && found.length === 0) return;
    await this.options.store.reports.updateWatch(watch.uploadId, watch.destination, { state, nextCheckAt, intervalSeconds, knownInstances });
  }
}

/** An error as a log field: its message, never a URL's credentials or a document's content. */
function errorSummary(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
