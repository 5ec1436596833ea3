// `relaypacs reports` and `relaypacs report`: the real relay binary (DICOMweb destination, a real
// Orthanc) finds the reports a reporting system stores into the study (DCMTK writes them, storescu
// sends them), and the agent lists, waits for and reads them (agent-harness.ts).
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateStudy, minimalPdf, writeReportDocument, type GeneratedStudy, type ReportDocumentSpec } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentWorld } from './agent-harness.js';

const run = promisify(execFile);
let world: AgentWorld;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-cli-reports-', { reports: { firstIntervalSeconds: 0.5, maxIntervalSeconds: 1 } });
  const login = await world.login();
  expect(login.code, login.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

async function storeIntoPacs(study: GeneratedStudy, spec: ReportDocumentSpec): Promise<void> {
  const document = await writeReportDocument(join(world.workDir, 'documents'), study, spec);
  await run('storescu', ['-aec', world.orthanc.aet, '127.0.0.1', String(world.orthanc.dicomPort), document.path]);
}

it('lists nothing, then waits for the report of a study, lists it and prints it; saves a PDF report to a file', async () => {
  const study = await generateStudy(join(world.workDir, 'study'), { instances: 2, rows: 32, columns: 32 });
  const upload = await world.agent(['upload', join(world.workDir, 'study'), '--wait', '--json']);
  expect(upload.code, upload.stderr).toBe(0);
  const none = await world.agent(['reports', '--json']);
  expect(none.code, none.stderr).toBe(0);
  expect(JSON.parse(none.stdout)).toEqual({ reports: [] });

  const waiting = world.spawnAgent(['reports', '--wait', study.studyInstanceUid, '--timeout', '60', '--json']);
  await storeIntoPacs(study, { kind: 'report-sr', completion: 'PARTIAL', verification: 'UNVERIFIED', findings: ['Preliminary impression: normal.'] });
  const waited = await waiting.exited;
  expect(waited.code, waiting.stderr).toBe(0);
  const { report } = JSON.parse(waiting.stdout) as { report: { id: number; status: string; kind: string; studyInstanceUid: string } };
  expect(report).toMatchObject({ status: 'preliminary', kind: 'sr', studyInstanceUid: study.studyInstanceUid });

  const text = await world.agent(['report', String(report.id)]);
  expect(text.code, text.stderr).toBe(0);
  expect(text.stdout).toContain('Finding: Preliminary impression: normal.');

  await storeIntoPacs(study, { kind: 'report-pdf', findings: ['Final and signed'] });
  await expect.poll(async () => (JSON.parse((await world.agent(['reports', '--json'])).stdout) as { reports: unknown[] }).reports.length, { timeout: 30_000, interval: 500 }).toBe(2);
  const listed = await world.agent(['reports']);
  expect(listed.stdout.split('\n')[0]).toMatch(new RegExp(`final\\s+PDF study ${study.studyInstanceUid.replaceAll('.', '\\.')} \\(Diagnostic Imaging Report\\)  report \\d+`));
  const pdfId = Number(/report (\d+)$/.exec(listed.stdout.split('\n')[0]!)![1]);
  const refused = await world.agent(['report', String(pdfId)]);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toContain('give --out FILE');
  const out = join(world.workDir, 'report.pdf');
  const saved = await world.agent(['report', String(pdfId), '--out', out]);
  expect(saved.code, saved.stderr).toBe(0);
  expect(await readFile(out)).toEqual(minimalPdf('Final and signed'));
}, 120_000);

it('gives up waiting after the timeout, with exit 1', async () => {
  const gaveUp = await world.agent(['reports', '--wait', '1.2.3.4.5', '--timeout', '1']);
  expect(gaveUp.code, gaveUp.stderr).toBe(1);
  expect(gaveUp.stderr).toBe('');
  expect(gaveUp.stdout).toContain('no report of study 1.2.3.4.5 within 1 s');
}, 30_000);

it('watch follows the studies it sent and prints each report as the relay finds it', async () => {
  const inbox = join(world.workDir, 'inbox');
  await mkdir(inbox, { recursive: true });
  const study = await generateStudy(join(world.workDir, 'to-watch'), { instances: 2, rows: 32, columns: 32 });
  const watcher = world.spawnAgent(['watch', inbox, '--quiet', '0.5', '--stability', '0.2', '--json']);
  await expect.poll(() => watcher.stderr, { timeout: 20_000 }).toContain('watching');
  for (const instance of study.instances) await copyFile(instance.path, join(inbox, `IM${instance.instanceNumber}`));
  await expect.poll(() => watcher.stdout, { timeout: 30_000, interval: 100 }).toContain('"state":"confirmed"');
  await storeIntoPacs(study, { kind: 'report-sr', findings: ['Watched and reported.'] });
  await expect.poll(() => watcher.stdout, { timeout: 30_000, interval: 200 }).toContain(`"studyInstanceUid":"${study.studyInstanceUid}","status":"final"`);
  // The reports of the studies sent before (the first test's) are printed too: this agent had not told of them yet.
  const line = watcher.stdout.split('\n').find((l) => l.includes('"report":') && l.includes(study.studyInstanceUid))!;
  expect(JSON.parse(line).report).toMatchObject({ studyInstanceUid: study.studyInstanceUid, status: 'final', kind: 'sr' });
  const exit = await watcher.stop('SIGTERM');
  expect(exit.code).toBe(0);
}, 120_000);
