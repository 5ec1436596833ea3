// Reports reach the desktop: the real relay binary (DICOMweb destination, a real Orthanc) finds the
// reports a reporting system stores into a study (DCMTK writes them, storescu sends them); the
// desktop API tells the user with a notice that names nothing of the patient, shows the status in
// the history (and filters by it), and reads the report. A desktop that was closed while a report
// came learns of it when it starts again.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateStudy, minimalPdf, writeReportDocument, type GeneratedStudy, type ReportDocumentSpec } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { EventChannel, HistoryFilter, InvokeChannel, InvokeResponse } from '../../src/common/ipc-contract.js';
import { createCore } from '../../src/core/create-core.js';
import { createDesktopApi, type DesktopApi, type DesktopNotice } from '../../src/app/desktop-api.js';
import { ACCOUNTS, startRelayStack, type RelayStack } from './relay-stack.js';

const run = promisify(execFile);
let stack: RelayStack;
let api: DesktopApi;
const notices: DesktopNotice[] = [];
const events: { channel: EventChannel; payload: unknown }[] = [];

async function open(): Promise<DesktopApi> {
  const core = await createCore({ dataDir: join(stack.workDir, 'agent') });
  const opened = await createDesktopApi({ core, chooseImportPaths: async () => [], log: () => undefined, senderIdleMs: 200, notify: (n) => notices.push(n) });
  opened.onEvent((channel, payload) => events.push({ channel, payload }));
  return opened;
}

async function ok<C extends InvokeChannel>(channel: C, request?: unknown): Promise<InvokeResponse<C>> {
  const result = await api.invoke(channel, request);
  if (!result.ok) throw new Error(`${channel} refused: ${JSON.stringify(result.error)}`);
  return result.value;
}

async function sent(name: string): Promise<GeneratedStudy> {
  const study = await generateStudy(join(stack.workDir, name), { instances: 2, rows: 32, columns: 32 });
  await ok('import:paths', { paths: [join(stack.workDir, name)] });
  await ok('import:send', { studies: [{ studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' }] });
  await expect.poll(async () => (await ok('history:list', {})).some((h) => h.studyInstanceUid === study.studyInstanceUid), { timeout: 30_000 }).toBe(true);
  return study;
}

async function storeIntoPacs(study: GeneratedStudy, spec: ReportDocumentSpec): Promise<void> {
  const document = await writeReportDocument(join(stack.workDir, 'documents'), study, spec);
  await run('storescu', ['-aec', stack.orthanc.aet, '127.0.0.1', String(stack.orthanc.dicomPort), document.path]);
}

const historyOf = async (study: GeneratedStudy, filter: HistoryFilter = {}) => (await ok('history:list', filter)).find((h) => h.studyInstanceUid === study.studyInstanceUid);

beforeAll(async () => {
  stack = await startRelayStack('desktop-api-reports', { reports: { firstIntervalSeconds: 0.5, maxIntervalSeconds: 1 } });
  api = await open();
  await ok('session:sign-in', { relayUrl: stack.relayUrl, username: ACCOUNTS.radiographer.username, password: ACCOUNTS.radiographer.password });
}, 120_000);

afterAll(async () => {
  await api?.close();
  await stack?.stop();
});

it('tells of a report with a notice naming no patient, shows its status in the history, filters by it, and reads it', async () => {
  const study = await sent('study-1');
  expect((await historyOf(study))?.report).toBeUndefined();
  expect(await historyOf(study, { report: 'awaiting' })).toBeDefined();

  await storeIntoPacs(study, { kind: 'report-sr', completion: 'PARTIAL', verification: 'UNVERIFIED', findings: ['Preliminary: no fracture seen.'] });
  await expect.poll(async () => (await historyOf(study))?.report?.status, { timeout: 30_000, interval: 250 }).toBe('preliminary');
  expect(notices).toEqual([{ kind: 'report-ready', title: 'A report is ready', body: 'A report has arrived for a study you sent. Open RelayPACS to read it.' }]);
  expect(JSON.stringify(notices)).not.toContain(study.patient.name.split('^')[0]!);
  expect(events.some((e) => e.channel === 'reports:changed')).toBe(true);
  expect(await historyOf(study, { report: 'awaiting' })).toBeUndefined();
  expect(await historyOf(study, { report: 'preliminary' })).toBeDefined();
  expect(await historyOf(study, { report: 'final' })).toBeUndefined();

  const item = (await historyOf(study))!;
  const text = await ok('reports:content', { reportId: item.report!.reportId });
  expect(text).toMatchObject({ format: 'text' });
  expect((text as { text: string }).text).toContain('Finding: Preliminary: no fracture seen.');

  await storeIntoPacs(study, { kind: 'report-pdf', findings: ['Final report'] });
  await expect.poll(async () => (await historyOf(study))?.report?.status, { timeout: 30_000, interval: 250 }).toBe('final');
  const pdf = await ok('reports:content', { reportId: (await historyOf(study))!.report!.reportId });
  expect(pdf).toEqual({ reportId: (await historyOf(study))!.report!.reportId, format: 'pdf', base64: minimalPdf('Final report').toString('base64') });
  expect(notices).toHaveLength(2);
  const refused = await api.invoke('reports:content', { reportId: 'x' });
  expect(refused).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
}, 120_000);

it('learns, when it starts again, of the report that came while it was closed', async () => {
  const study = await sent('study-2');
  await api.close();
  notices.length = 0;
  await storeIntoPacs(study, { kind: 'report-sr', findings: ['Came while the desktop was off.'] });
  // The relay finds it meanwhile: asked directly, as the desktop would be.
  const login = await fetch(`${stack.relayUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: ACCOUNTS.radiographer.username, password: ACCOUNTS.radiographer.password }) });
  const { accessToken } = (await login.json()) as { accessToken: string };
  await expect.poll(async () => ((await (await fetch(`${stack.relayUrl}/reports`, { headers: { authorization: `Bearer ${accessToken}` } })).json()) as { reports: { studyInstanceUid: string }[] })
    .reports.some((r) => r.studyInstanceUid === study.studyInstanceUid), { timeout: 30_000, interval: 250 }).toBe(true);
  api = await open();
  await expect.poll(() => notices.length, { timeout: 20_000, interval: 100 }).toBe(1);
  expect(notices[0]).toMatchObject({ kind: 'report-ready', title: 'A report is ready' });
  expect((await historyOf(study))?.report?.status).toBe('final');
}, 120_000);
