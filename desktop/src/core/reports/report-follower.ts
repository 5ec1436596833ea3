import type { ReportView } from '../../../../server/src/protocol/report-protocol.js';
import type { CatalogDatabase } from '../catalog/catalog-database.js';
import type { UploadEventSource } from '../upload/relay-event-stream.js';
import type { ReportsService } from './reports-service.js';

/** The relay's page of GET /reports, and pages read per look at most (10,000 reports). */
const PAGE_SIZE = 500;
const MAX_PAGES = 20;

export interface ReportFollowerOptions {
  db: CatalogDatabase;
  reports: Pick<ReportsService, 'list'>;
  /** Who is signed in where: the reports and their cursor are per relay and account (a shared workstation). */
  account: () => Promise<{ relayUrl: string; username: string } | undefined>;
  /** The relay's event stream (built with the engine), for report events as they happen. */
  events: () => Promise<UploadEventSource | undefined>;
  /** Reports not known before, after each look (a workstation that was off gets them all at once). */
  onNew: (reports: ReportView[]) => void;
  /** How often the relay is asked anyway (an event missed, a stream behind a proxy). Default 60 s. */
  intervalMs?: number;
  /** Studies delivered this long ago or less are followed while no final report came. Default 14 days (the relay's reports.watchDays). */
  followDays?: number;
  now?: () => Date;
  log: (message: string) => void;
}

/**
 * Keeps the workstation's view of its studies' reports (the catalog's study_reports) in step with
 * the relay, and says when new ones come. It asks the relay (GET /reports after the highest report
 * id it knows for this relay and account, page by page) when it starts, every `intervalMs`, whenever the event stream (re)connects, and at once
 * on a `report` event of a study it follows: the studies delivered within `followDays` that have no
 * final report yet. So a desktop that was off or offline for hours learns of the reports that came
 * meanwhile as soon as it is back, and one that is on learns within a second of the relay.
 */
export class ReportFollower {
  private timer: NodeJS.Timeout | undefined;
  private readonly followed = new Map<string, () => void>();
  private syncing: Promise<ReportView[]> | undefined;
  private again = false;
  private running = false;

  constructor(private readonly options: ReportFollowerOptions) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    const tick = () => {
      void this.sync().catch((error: unknown) => this.options.log(`reports: could not ask the relay (${(error as { code?: string }).code ?? 'error'})`))
        .then(() => this.follow());
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs ?? 60_000);
    this.timer.unref();
  }

  stop(): void {
    this.running = false;
    clearInterval(this.timer);
    this.timer = undefined;
    for (const unsubscribe of this.followed.values()) unsubscribe();
    this.followed.clear();
  }

  /** A study was just delivered: follow its upload's events from now (and catch up on reports). */
  delivered(): void {
    if (!this.running) return;
    void this.follow().then(() => this.sync()).catch(() => undefined);
  }

  /** Asks the relay for reports newer than the newest known; keeps and answers the new ones. One look at a time; a call meanwhile looks again after it. */
  sync(): Promise<ReportView[]> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.syncing = this.look().finally(() => {
      this.syncing = undefined;
      if (this.again && this.running) {
        this.again = false;
        void this.sync().catch(() => undefined);
      }
    });
    return this.syncing;
  }

  private async look(): Promise<ReportView[]> {
    const { db } = this.options;
    const account = await this.options.account();
    if (!account) return [];
    const { relayUrl, username } = account;
    const known = db.prepare('SELECT 1 FROM study_reports WHERE relay_url = ? AND report_id = ?');
    const insert = db.prepare(`INSERT INTO study_reports (relay_url, username, report_id, relay_upload_id, study_instance_uid, status, kind, title, detected_at, content_available)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (relay_url, report_id) DO UPDATE SET content_available = excluded.content_available`);
    const fresh: ReportView[] = [];
    // By id, oldest first, a page at a time: a workstation off for weeks gets every report it missed.
    let after = (db.prepare('SELECT MAX(report_id) AS id FROM study_reports WHERE relay_url = ? AND username = ?').get(relayUrl, username) as { id: number | null }).id ?? 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const listed = await this.options.reports.list(after);
      db.transaction(() => {
        for (const report of listed) {
          if (!known.get(relayUrl, report.id)) fresh.push(report);
          insert.run(relayUrl, username, report.id, report.uploadId, report.studyInstanceUid, report.status, report.kind, report.title, report.detectedAt, report.contentAvailable ? 1 : 0);
        }
      })();
      if (listed.length < PAGE_SIZE) break;
      after = listed.at(-1)!.id;
    }
    if (fresh.length > 0) this.options.onNew(fresh);
    return fresh;
  }

  /** Subscribes to the event stream for the studies awaiting a report, and lets go of the others. */
  private async follow(): Promise<void> {
    if (!this.running) return;
    const since = new Date((this.options.now?.() ?? new Date()).getTime() - (this.options.followDays ?? 14) * 86_400_000).toISOString();
    const awaiting = new Set((this.options.db.prepare(`SELECT DISTINCT j.relay_upload_id AS id FROM upload_jobs j
      WHERE j.state IN ('delivered', 'confirmed') AND j.relay_upload_id IS NOT NULL AND j.finished_at >= ?
        AND NOT EXISTS (SELECT 1 FROM study_reports r WHERE r.relay_upload_id = j.relay_upload_id AND r.status IN ('final', 'amended'))`)
      .all(since) as { id: string }[]).map((row) => row.id));
    for (const [uploadId, unsubscribe] of this.followed) {
      if (!awaiting.has(uploadId)) {
        unsubscribe();
        this.followed.delete(uploadId);
      }
    }
    const missing = [...awaiting].filter((id) => !this.followed.has(id));
    if (missing.length === 0) return;
    const events = await this.options.events().catch(() => undefined);
    if (!events || !this.running) return;
    for (const uploadId of missing) {
      this.followed.set(uploadId, events.subscribe(uploadId, (notice) => {
        const cue = notice.kind === 'event' ? notice.event.type === 'report' : notice.connected;
        if (cue) void this.sync().catch(() => undefined);
      }));
    }
  }
}
