// Reports found where a reporting system puts them: a study sent through the relay into a real
// Orthanc, then reports stored into the same study the way a reporting system would (DCMTK writes
// them, storescu sends them over DICOM), found through Orthanc's change feed (Orthanc REST
// destination) and through QIDO-RS/WADO-RS (STOW-RS destination), told as `report` events, listed
// and served by the relay's routes.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateStudy, minimalPdf, OrthancServer, writeReportDocument, type GeneratedStudy, type ReportDocumentSpec } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { RelayEvent } from '../../src/protocol/event-protocol.js';
import type { ReportList } from '../../src/protocol/report-protocol.js';
import { openStream } from '../support/event-stream.js';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { allDelivered, sendStudy, waitForStatus } from '../support/upload-flow.js';

const run = promisify(execFile);
let orthanc: OrthancServer;
let workDir: string;

beforeAll(async () => {
  // StableAge 1 s: a series that received an instance (an amendment into its series) settles quickly.
  orthanc = await OrthancServer.start({ extraConfig: { StableAge: 1 } });
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-report-monitor-'));
}, 60_000);
afterAll(async () => {
  await orthanc?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** Stores a document into Orthanc as a reporting system does: C-STORE with DCMTK's storescu. */
async function storeIntoPacs(study: GeneratedStudy, spec: ReportDocumentSpec) {
  const document = await writeReportDocument(join(workDir, 'documents'), study, spec);
  await run('storescu', ['-aec', orthanc.aet, '127.0.0.1', String(orthanc.dicomPort), document.path]);
  return document;
}

function collectEvents(relay: TestRelay): RelayEvent[] {
  const seen: RelayEvent[] = [];
  relay.services.events.subscribe('all', (event) => seen.push(event));
  return seen;
}

async function sentAndDelivered(relay: TestRelay, name: string, token: string) {
  const study = await generateStudy(join(workDir, name), { instances: 3, rows: 16, columns: 16 });
  const sent = await sendStudy(relay, study, {}, token);
  await waitForStatus(relay, sent, allDelivered, 60_000);
  return { study, sent };
}

const listReports = async (relay: TestRelay, uploadId: string, token: string) => {
  const response = await relay.get(`/upload/${uploadId}/reports`, token);
  return { status: response.status, body: response.status === 200 ? (await response.json()) as ReportList : undefined };
};

describe('reports in an Orthanc REST destination, through its change feed', () => {
  let relay: TestRelay;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'relaypacs-report-relay-'));
    relay = await startTestRelay({
      destinations: [{ name: 'orthanc', kind: 'orthanc-rest', url: orthanc.baseUrl }],
      reports: { feedIntervalSeconds: 0.1, followAmendments: true },
    }, { deliver: true, dataDir });
  }, 60_000);
  afterAll(async () => {
    await relay?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('tells the sender of a preliminary, a final and an amended report, ignores a dose report and a key-object note, and serves each', async () => {
    const token = await relay.tokenFor('radiographer', 'sender');
    const events = collectEvents(relay);
    const { study, sent } = await sentAndDelivered(relay, 'study-rest', token);
    expect((await relay.services.store.reports.watching('orthanc')).map((w) => w.uploadId)).toEqual([sent.uploadId]);
    // The first round starts the feed at its end and looks the watched study up directly.
    expect(await relay.services.reports.round()).toMatchObject({ ran: true, reports: 0, failures: 0 });
    // The sender's workstation listens on GET /events, as the desktop does.
    const stream = openStream(relay.url, token);

    const preliminary = await storeIntoPacs(study, { kind: 'report-sr', completion: 'PARTIAL', verification: 'UNVERIFIED', findings: ['Preliminary: no fracture.'] });
    await storeIntoPacs(study, { kind: 'dose-sr' });
    await storeIntoPacs(study, { kind: 'key-object' });
    // The dose report is an SR: fetched, read, found no report. The key-object note's series (KO) is not even fetched.
    await roundsUntil(relay, (s) => s.reports === 1 && s.notReports === 1);
    const final = await storeIntoPacs(study, { kind: 'report-sr', findings: ['No fracture. Final.'] });
    await roundsUntil(relay, (s) => s.reports === 1);
    // An amendment stored into the final report's series: found once that series settles (StableSeries).
    const amended = await storeIntoPacs(study, { kind: 'report-sr', predecessor: final, seriesOf: final, findings: ['Addendum: small effusion.'] });
    await roundsUntil(relay, (s) => s.reports === 1, 15_000);

    const reportEvents = () => events.filter((e): e is Extract<RelayEvent, { type: 'report' }> => e.type === 'report');
    await vi.waitFor(() => expect(reportEvents()).toHaveLength(3));
    expect(reportEvents().map((e) => [e.uploadId, e.status, e.kind, e.destination])).toEqual([
      [sent.uploadId, 'preliminary', 'sr', 'orthanc'], [sent.uploadId, 'final', 'sr', 'orthanc'], [sent.uploadId, 'amended', 'sr', 'orthanc'],
    ]);
    // Events carry ids and states only.
    expect(JSON.stringify(reportEvents())).not.toContain(study.patient.name);
    // On the wire: `event: report`, the same ids; and replayed to a workstation that comes back with Last-Event-ID.
    await vi.waitFor(() => expect(stream.events.filter((e) => e.type === 'report').map((e) => JSON.parse(e.data) as { reportId: number }).map((e) => e.reportId))
      .toEqual(reportEvents().map((e) => e.reportId)));
    const firstOnWire = stream.events.find((e) => e.type === 'report')!;
    stream.close();
    const before = stream.events[stream.events.indexOf(firstOnWire) - 1]?.lastEventId ?? '0';
    const back = openStream(relay.url, token, before);
    await vi.waitFor(() => expect(back.events.filter((e) => e.type === 'report').map((e) => (JSON.parse(e.data) as { status: string }).status)).toEqual(['preliminary', 'final', 'amended']));
    back.close();

    const listed = await listReports(relay, sent.uploadId, token);
    expect(listed.status).toBe(200);
    expect(listed.body!.reports.map((r) => [r.status, r.kind, r.title, r.source, r.contentAvailable])).toEqual([
      ['preliminary', 'sr', 'Diagnostic Imaging Report', 'orthanc-changes', true],
      ['final', 'sr', 'Diagnostic Imaging Report', 'orthanc-changes', true],
      ['amended', 'sr', 'Diagnostic Imaging Report', 'orthanc-changes', true],
    ]);
    const [first, , last] = listed.body!.reports;
    expect(first!.id).toBe(reportEvents()[0]!.reportId);
    const text = await relay.get(`/reports/${last!.id}/content`, token);
    expect(text.status).toBe(200);
    expect(text.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(text.headers.get('cache-control')).toBe('no-store');
    expect(await text.text()).toContain('Finding: Addendum: small effusion.');
    expect(listed.body!.reports.map((r) => r.id)).toEqual(reportEvents().map((e) => e.reportId));
    const kept = await Promise.all(listed.body!.reports.map((r) => relay.services.store.reports.find(r.id)));
    expect(kept.map((r) => r!.sopInstanceUid)).toEqual([preliminary.sopInstanceUid, final.sopInstanceUid, amended.sopInstanceUid]);
    // Each read of content is audited.
    const reads = (await relay.services.store.audit.recent(20)).filter((row) => row.action === 'report-read');
    expect(reads.map((row) => row.target)).toEqual([`report ${last!.id} upload ${sent.uploadId} study ${study.studyInstanceUid}`]);

    // Another radiographer sees neither the list nor the content; an admin sees both.
    const stranger = await relay.tokenFor('radiographer', 'stranger');
    expect((await listReports(relay, sent.uploadId, stranger)).status).toBe(404);
    expect((await relay.get(`/reports/${last!.id}/content`, stranger)).status).toBe(404);
    const admin = await relay.tokenFor('admin', 'admin');
    expect((await listReports(relay, sent.uploadId, admin)).body!.reports).toHaveLength(3);
    expect((await relay.get(`/reports/${last!.id}`, admin)).status).toBe(200);
    // The sender's own list across uploads, newest first.
    const mine = (await (await relay.get('/reports', token)).json()) as ReportList;
    expect(mine.reports.map((r) => r.status)).toEqual(['amended', 'final', 'preliminary']);
  }, 120_000);

  it('reports once what was stored while the relay was down, after it starts again', async () => {
    const token = await relay.tokenFor('radiographer', 'restarter');
    const { study, sent } = await sentAndDelivered(relay, 'study-restart', token);
    await relay.services.reports.round();
    await relay.close();
    const pdf = await storeIntoPacs(study, { kind: 'report-pdf', findings: ['Final report as PDF'] });
    relay = await startTestRelay({
      destinations: [{ name: 'orthanc', kind: 'orthanc-rest', url: orthanc.baseUrl }],
      reports: { feedIntervalSeconds: 0.1, followAmendments: true },
    }, { deliver: true, dataDir });
    const events = collectEvents(relay);
    await roundsUntil(relay, (s) => s.reports === 1);
    await relay.services.reports.round();
    await relay.services.reports.round();
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'report')).toHaveLength(1));
    expect(events.filter((e) => e.type === 'report')).toEqual([expect.objectContaining({ uploadId: sent.uploadId, status: 'final', kind: 'pdf' })]);
    // The PDF as the reporting system wrote it: trimmed to its Encapsulated Document Length.
    const [report] = (await listReports(relay, sent.uploadId, token)).body!.reports;
    const content = await relay.get(`/reports/${report!.id}/content`, token);
    expect(content.headers.get('content-type')).toBe('application/pdf');
    expect(Buffer.from(await content.arrayBuffer())).toEqual(minimalPdf('Final report as PDF'));
    expect((await relay.services.store.reports.find(report!.id))).toMatchObject({ sopInstanceUid: pdf.sopInstanceUid, source: 'orthanc-changes' });
  }, 120_000);

  it('starts again at the end of a feed that was cleared (a new Orthanc database) and still finds what is there', async () => {
    const token = await relay.tokenFor('radiographer', 'cleared');
    const { study, sent } = await sentAndDelivered(relay, 'study-cleared', token);
    await relay.services.reports.round();
    // The feed's numbers now stop far below the cursor kept, as after Orthanc's database was replaced.
    await relay.services.store.reports.setCursor('orthanc', 1_000_000_000, relay.now().toISOString());
    await storeIntoPacs(study, { kind: 'report-sr' });
    await roundsUntil(relay, (s) => s.reports === 1);
    expect((await listReports(relay, sent.uploadId, token)).body!.reports.map((r) => r.status)).toEqual(['final']);
    expect(await relay.services.store.reports.cursor('orthanc')).toBeLessThan(1_000_000_000);
  }, 60_000);
});

describe('a document the relay cannot take', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startTestRelay({
      destinations: [{ name: 'orthanc', kind: 'orthanc-rest', url: orthanc.baseUrl }],
      reports: { feedIntervalSeconds: 0.1, maxContentBytes: 4096 },
    }, { deliver: true });
  }, 60_000);
  afterAll(async () => {
    await relay?.close();
  });

  it('is set aside (too large to fetch) without holding the feed back: a report stored after it is found', async () => {
    const token = await relay.tokenFor('radiographer', 'big-doc');
    const { study, sent } = await sentAndDelivered(relay, 'study-big', token);
    await relay.services.reports.round();
    await storeIntoPacs(study, { kind: 'report-sr', completion: 'PARTIAL', findings: Array.from({ length: 40 }, (_, i) => `Finding ${i}: ${'x'.repeat(120)}`) });
    await storeIntoPacs(study, { kind: 'report-pdf', findings: ['Final'] });
    const sum = { reports: 0, failures: 0 };
    for (let round = 0; round < 40 && sum.reports === 0; round++) {
      const summary = await relay.services.reports.round();
      sum.reports += summary.reports;
      sum.failures += summary.failures;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect(sum).toEqual({ reports: 1, failures: 1 });
    expect((await listReports(relay, sent.uploadId, token)).body!.reports.map((r) => [r.kind, r.status])).toEqual([['pdf', 'final']]);
    // Set aside for good: later rounds neither fetch it nor fail on it.
    expect(await relay.services.reports.round()).toMatchObject({ failures: 0, reports: 0, notReports: 0 });
  }, 60_000);

  it('does not take the sender\'s own documents for the radiologist\'s report (an outside report on the CD it sent)', async () => {
    const token = await relay.tokenFor('radiographer', 'cd-import');
    const study = await generateStudy(join(workDir, 'study-cd'), { instances: 2, rows: 16, columns: 16 });
    // The CD carried the outside facility's final report: it travels with the study.
    const outside = await writeReportDocument(join(workDir, 'cd'), study, { kind: 'report-pdf', findings: ['Outside report'] });
    study.instances.push({ path: outside.path, sopClassUid: outside.sopClassUid, sopInstanceUid: outside.sopInstanceUid, seriesInstanceUid: outside.seriesInstanceUid,
      instanceNumber: 1, transferSyntaxUid: '1.2.840.10008.1.2.1', size: (await stat(outside.path)).size, sha256: '' });
    const sent = await sendStudy(relay, study, {}, token);
    await waitForStatus(relay, sent, allDelivered, 60_000);
    for (let round = 0; round < 5; round++) {
      expect(await relay.services.reports.round()).toMatchObject({ reports: 0, failures: 0 });
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    expect((await listReports(relay, sent.uploadId, token)).body!.reports).toEqual([]);
    await storeIntoPacs(study, { kind: 'report-sr' });
    await roundsUntil(relay, (s) => s.reports === 1);
  }, 90_000);
});

describe('reports in a DICOMweb destination, through QIDO-RS and WADO-RS', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startTestRelay({
      destinations: [{ name: 'dicomweb', kind: 'stow-rs', url: orthanc.dicomWebUrl }],
      reports: { firstIntervalSeconds: 60, maxIntervalSeconds: 900 },
    }, { deliver: true });
  }, 60_000);
  afterAll(async () => {
    await relay?.close();
  });

  it('asks about a watched study when it is due, backs off while nothing changes, and stops after the final report', async () => {
    const token = await relay.tokenFor('clinician', 'stat-sender');
    const events = collectEvents(relay);
    const { study, sent } = await sentAndDelivered(relay, 'study-web', token);
    const [watch] = await relay.services.store.reports.watching('dicomweb');
    expect(watch).toMatchObject({ uploadId: sent.uploadId, intervalSeconds: 60 });
    // Not due yet: the PACS is not asked.
    expect(await relay.services.reports.round()).toMatchObject({ ran: true, reports: 0 });
    relay.advance(61);
    await relay.services.reports.round();
    expect((await relay.services.store.reports.watching('dicomweb'))[0]).toMatchObject({ intervalSeconds: 120, knownInstances: 3 });
    await storeIntoPacs(study, { kind: 'dose-sr' });
    await storeIntoPacs(study, { kind: 'report-sr', completion: 'COMPLETE', verification: 'UNVERIFIED' });
    relay.advance(121);
    // The dose report's SOP class is no report class: QIDO-RS names it, nothing fetches it.
    expect(await relay.services.reports.round()).toMatchObject({ reports: 1, notReports: 0, failures: 0 });
    // Something new: back to the first interval.
    expect((await relay.services.store.reports.watching('dicomweb'))[0]).toMatchObject({ intervalSeconds: 60, knownInstances: 5 });
    await storeIntoPacs(study, { kind: 'report-pdf', findings: ['Signed'] });
    relay.advance(61);
    expect(await relay.services.reports.round()).toMatchObject({ reports: 1, notReports: 0 });
    expect(await relay.services.store.reports.watching('dicomweb')).toEqual([]);
    await vi.waitFor(() => expect(events.filter((e) => e.type === 'report').map((e) => (e as { status: string }).status)).toEqual(['preliminary', 'final']));
    const reports = (await listReports(relay, sent.uploadId, token)).body!.reports;
    expect(reports.map((r) => [r.kind, r.status, r.source])).toEqual([['sr', 'preliminary', 'qido-rs'], ['pdf', 'final', 'qido-rs']]);
    const pdf = await relay.get(`/reports/${reports[1]!.id}/content`, token);
    expect(Buffer.from(await pdf.arrayBuffer())).toEqual(minimalPdf('Signed'));
  }, 120_000);
});

/** Runs rounds until one (or the sum since the first) satisfies `done`. Bounded in time. */
async function roundsUntil(relay: TestRelay, done: (sum: { reports: number; notReports: number }) => boolean, timeoutMs = 10_000): Promise<void> {
  const sum = { reports: 0, notReports: 0 };
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 200 && Date.now() < deadline; round++) {
    const summary = await relay.services.reports.round();
    expect(summary.failures).toBe(0);
    sum.reports += summary.reports;
    sum.notReports += summary.notReports;
    if (done(sum)) return;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  throw new Error(`rounds found ${JSON.stringify(sum)} before the deadline`);
}



describe('reports in a C-STORE destination, through C-FIND and C-GET', () => {
  let pacs: OrthancServer;
  let relay: TestRelay;
  beforeAll(async () => {
    // The PACS knows the relay's AE and lets it query and retrieve, as a site configures it.
    pacs = await OrthancServer.start({
      dicomWeb: false,
      extraConfig: { DicomModalities: { relay: { AET: 'RELAYPACS', Host: '127.0.0.1', Port: 104, AllowFind: true, AllowGet: true, AllowMove: false } } },
    });
    relay = await startTestRelay({
      destinations: [{ name: 'dimse', kind: 'c-store', host: '127.0.0.1', port: pacs.dicomPort, calledAet: pacs.aet, callingAet: 'RELAYPACS', reports: true }],
      reports: { firstIntervalSeconds: 60 },
    }, { deliver: true });
  }, 60_000);
  afterAll(async () => {
    await relay?.close();
    await pacs?.stop();
  });

  it('finds the report series of a due study, retrieves the report and reads it; a dose report is set aside', async () => {
    const token = await relay.tokenFor('radiographer', 'dimse-sender');
    const study = await generateStudy(join(workDir, 'study-dimse'), { instances: 2, rows: 16, columns: 16 });
    const sent = await sendStudy(relay, study, {}, token);
    await waitForStatus(relay, sent, allDelivered, 60_000);
    expect((await relay.services.store.reports.watching('dimse')).map((w) => w.uploadId)).toEqual([sent.uploadId]);
    // A Comprehensive 3D SR: a report class dcmjs-dimse does not propose by itself.
    const document = await writeReportDocument(join(workDir, 'dimse-docs'), study, { kind: 'report-sr', srClass: 'comprehensive-3d', findings: ['Found by C-FIND, read by C-GET.'] });
    const dose = await writeReportDocument(join(workDir, 'dimse-docs'), study, { kind: 'dose-sr' });
    // storescu's default proposals do not include the 3D SR class: this one goes in by Orthanc's REST API.
    await pacs.uploadInstance(document.path);
    await run('storescu', ['-aec', pacs.aet, '127.0.0.1', String(pacs.dicomPort), dose.path]);
    relay.advance(61);
    // The dose report's SOP class is no report class: listed, never retrieved.
    expect(await relay.services.reports.round()).toMatchObject({ ran: true, reports: 1, notReports: 0, failures: 0 });
    const [report] = (await listReports(relay, sent.uploadId, token)).body!.reports;
    expect(report).toMatchObject({ kind: 'sr', status: 'final', source: 'c-find', destination: 'dimse' });
    const text = await (await relay.get(`/reports/${report!.id}/content`, token)).text();
    expect(text).toContain('Finding: Found by C-FIND, read by C-GET.');
    // Final: the study is no longer watched.
    expect(await relay.services.store.reports.watching('dimse')).toEqual([]);
  }, 90_000);
});
