// End to end in a real browser: the built renderer in Debian's Chromium (playwright-core), its
// window.api served by the real desktop API in this process (browser harness), over the real core
// against the real relay binary forwarding to a real Orthanc, the session in a real gnome-keyring.
// The tests run in order, as one radiographer's session, and save a screenshot of every screen
// (light and dark, 1280×800) under docs/screenshots/.
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateStudy, writeReportDocument, type GeneratedStudy, type ReportDocumentSpec } from '@relaypacs/testkit';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildRenderer } from '../../../scripts/build-renderer.js';
import { createCore } from '../../src/core/create-core.js';
import { createDesktopApi, type DesktopApi } from '../../src/app/desktop-api.js';
import { ACCOUNTS, startRelayStack, type RelayStack } from '../app/relay-stack.js';
import { pngjsPng } from '../core/import/photo/photo-fixtures.js';
import { openRenderer, type RendererHarness } from './harness.js';

const SCREENSHOTS = join(import.meta.dirname, '../../../docs/screenshots');

let stack: RelayStack;
let api: DesktopApi;
let harness: RendererHarness;
let page: Page;
/** What the "Choose folder…" dialog answers next. */
let nextChoice: string[] = [];
let study: GeneratedStudy;

async function screenshot(name: string): Promise<void> {
  // Let transitions and live updates settle so the picture is what a person would see.
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

async function inBothThemes(name: string): Promise<void> {
  await screenshot(name);
  await page.emulateMedia({ colorScheme: 'dark' });
  await screenshot(`${name}-dark`);
  await page.emulateMedia({ colorScheme: 'light' });
}

const nav = (name: string) => page.getByRole('navigation', { name: 'Main' }).getByRole('button', { name, exact: true });

beforeAll(async () => {
  stack = await startRelayStack('e2e', { reports: { firstIntervalSeconds: 0.5, maxIntervalSeconds: 1 } });
  await mkdir(SCREENSHOTS, { recursive: true });
  const rendererDir = await buildRenderer({ outDir: join(stack.workDir, 'renderer') });
  const core = await createCore({ dataDir: join(stack.workDir, 'agent') });
  api = await createDesktopApi({
    core,
    chooseImportPaths: async () => nextChoice,
    // IT has fixed the update settings: the settings screen shows them locked.
    policy: () => ({ locked: { updates: true }, values: { updates: { enabled: true, channel: 'stable' } } }),
    watchTimings: { stabilityMs: 200, studyQuietMs: 1_000, pollIntervalMs: 100, reconcileIntervalMs: 2_000 },
    senderIdleMs: 200,
    queueEventIntervalMs: 200,
    log: () => {},
  });
  harness = await openRenderer({ api, rendererDir });
  page = harness.page;
}, 180_000);

afterAll(async () => {
  await harness?.close();
  await api?.close();
  await stack?.stop();
});

it('signs in, imports a generated study folder, reviews it, sends it, sees it delivered in the queue and then in history', async () => {
  await expect.poll(() => page.getByRole('heading', { name: 'Sign in' }).isVisible(), { timeout: 15_000 }).toBe(true);
  await inBothThemes('sign-in');
  await page.getByLabel('Relay address').fill(stack.relayUrl);
  await page.getByLabel('User name').fill(ACCOUNTS.radiographer.username);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').filter({ hasText: 'Sign-in failed' }).waitFor();
  await page.getByLabel('Password').fill(ACCOUNTS.radiographer.password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Import', level: 1 }).waitFor();
  await page.getByText(`Signed in as ${ACCOUNTS.radiographer.username}`).waitFor();

  study = await generateStudy(join(stack.workDir, 'ct-export'), {
    instances: 12, series: 2, rows: 256, columns: 256, modality: 'CT', patient: { name: 'ALDERWICK^TAMSIN', id: 'SYN0000701' },
  });
  await writeFile(join(stack.workDir, 'ct-export', 'IM_CORRUPT'), Buffer.from('not a DICOM file at all'));
  // A wound photo taken beside the scan: listed in the review, attached to the study, sent with it.
  const woundPhoto = join(stack.workDir, 'ct-export', 'wound-photo.png');
  await writeFile(woundPhoto, pngjsPng({ width: 64, height: 48, colorType: 2, rgba: (x, y) => [180 + (x % 40), 90 + (y % 30), 80, 255] }));
  nextChoice = [join(stack.workDir, 'ct-export')];
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await page.getByRole('heading', { name: 'Studies found' }).waitFor({ timeout: 30_000 });
  const row = page.getByRole('row').filter({ hasText: 'ALDERWICK, TAMSIN' });
  await expect.poll(() => row.count()).toBe(1);
  expect(await row.innerText()).toMatch(/SYN0000701[\s\S]*CT[\s\S]*\b2\b[\s\S]*\b12\b/);
  // The corrupt file is listed as a problem, with the reason.
  const problems = page.getByRole('region', { name: /Problems found \(1\)/ });
  expect(await problems.innerText()).toContain('IM_CORRUPT');
  const label = `ALDERWICK, TAMSIN (${study.studyDate.slice(0, 4)}-${study.studyDate.slice(4, 6)}-${study.studyDate.slice(6)})`;
  await page.getByLabel(`Service level for ${label}`).selectOption('STAT');
  await page.getByLabel(`Clinical history for ${label}`).fill('Fall from ladder, query wrist fracture');
  // The photo waits in its own panel, to be attached to the study found.
  const photosPanel = page.getByRole('region', { name: 'Photos found (1)' });
  expect(await photosPanel.getByRole('checkbox', { name: `Attach ${woundPhoto}` }).isChecked()).toBe(true);
  expect(await photosPanel.getByLabel('Attach to').inputValue()).toBe(study.studyInstanceUid);
  // The review from its heading down: the studies, the photos panel and the problems in one picture.
  await page.getByRole('heading', { name: 'Studies found' }).evaluate((heading) => heading.scrollIntoView({ block: 'start' }));
  await inBothThemes('import-review');
  await photosPanel.getByRole('button', { name: 'Attach photos' }).click();
  await page.getByText(`1 photo attached to ${label}. Send the study to deliver it.`).waitFor({ timeout: 15_000 });
  expect(await photosPanel.count()).toBe(0);
  await expect.poll(() => row.innerText()).toMatch(/CT, XC[\s\S]*\b3\b[\s\S]*\b13\b/);

  // A bandwidth cap keeps the study on the wire long enough to see it move.
  expect((await api.invoke('settings:set', { maxBytesPerSecond: 250_000 })).ok).toBe(true);
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByRole('heading', { name: 'Sent to the queue' }).waitFor();
  await page.getByRole('button', { name: 'Open the queue' }).click();
  await page.getByRole('heading', { name: 'Queue', level: 1 }).waitFor();
  const progress = page.getByRole('progressbar', { name: 'Progress for ALDERWICK, TAMSIN' });
  await expect.poll(async () => Number(await progress.getAttribute('aria-valuenow')), { timeout: 20_000, interval: 100 }).toBeGreaterThan(20);
  expect(await page.getByText(/\/s · (about \d+ min left|less than a minute left)/).count()).toBeGreaterThan(0);
  await inBothThemes('queue');
  await expect.poll(() => page.getByText(/In PACS/).count(), { timeout: 40_000, interval: 200 }).toBeGreaterThan(0);
  expect(await progress.getAttribute('aria-valuenow')).toBe('100');
  expect(await stack.heldInOrthanc(study.instances.map((i) => i.sopInstanceUid))).toBe(12);
  // The photo is in PACS too, an image of the same study and patient.
  const photoInstances = api.core.catalog.study(study.studyInstanceUid)!.series.filter((s) => s.modality === 'XC').flatMap((s) => s.instances);
  expect(photoInstances.map((i) => i.displayName)).toEqual([woundPhoto]);
  const photoId = await stack.orthanc.findInstance(photoInstances[0]!.sopInstanceUid);
  expect(await stack.orthanc.instanceTags(photoId!)).toMatchObject({ StudyInstanceUID: study.studyInstanceUid, PatientID: 'SYN0000701', SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', Columns: '64', Rows: '48' });
  expect((await api.invoke('settings:set', { maxBytesPerSecond: 0 })).ok).toBe(true);

  await nav('History').click();
  await page.getByRole('heading', { name: 'History', level: 1 }).waitFor();
  const historyRow = page.getByRole('row').filter({ hasText: 'ALDERWICK, TAMSIN' });
  await expect.poll(() => historyRow.count(), { timeout: 10_000 }).toBe(1);
  expect(await historyRow.innerText()).toMatch(/STAT[\s\S]*In PACS/);
  await inBothThemes('history');
}, 120_000);

/** Stores a report into the study in Orthanc as a reporting system does: DCMTK writes it, storescu sends it. */
async function reportIntoPacs(spec: ReportDocumentSpec): Promise<void> {
  const document = await writeReportDocument(join(stack.workDir, 'reports'), study, spec);
  await promisify(execFile)('storescu', ['-aec', stack.orthanc.aet, '127.0.0.1', String(stack.orthanc.dicomPort), document.path]);
}

it('shows the report the radiologist stored in the PACS: its status in the history, the SR as text, the PDF drawn in the page', async () => {
  const pageUrl = page.url();
  const historyRow = page.getByRole('row').filter({ hasText: 'ALDERWICK, TAMSIN' });
  expect(await historyRow.innerText()).toMatch(/Awaiting report/);
  await reportIntoPacs({
    kind: 'report-sr', completion: 'PARTIAL', verification: 'UNVERIFIED',
    findings: ['Undisplaced fracture of the distal radius.', 'No dislocation. Soft tissue swelling dorsally.', 'Impression: distal radius fracture; orthopaedic review advised.'],
  });
  await expect.poll(() => historyRow.innerText(), { timeout: 30_000, interval: 200 }).toMatch(/Preliminary report/);
  await historyRow.getByRole('button', { name: /^Read the preliminary report of / }).click();
  const dialog = page.getByRole('dialog', { name: 'Diagnostic Imaging Report' });
  await dialog.getByText('Finding: Undisplaced fracture of the distal radius.').waitFor();
  await inBothThemes('report-view');
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });

  await reportIntoPacs({ kind: 'report-pdf', findings: ['Distal radius fracture, undisplaced. Final report.'] });
  await expect.poll(() => historyRow.innerText(), { timeout: 30_000, interval: 200 }).toMatch(/Final report/);
  await historyRow.getByRole('button', { name: /^Read the final report of / }).click();
  // Drawn by pdf.js on a canvas in the page: no plugin, no new window, no navigation.
  const pageCanvas = dialog.getByRole('img', { name: 'Page 1 of 1' });
  await pageCanvas.waitFor({ timeout: 15_000 });
  await dialog.getByText('Drawing the report…').waitFor({ state: 'hidden' });
  const inked = await pageCanvas.evaluate((element) => {
    const canvas = element as unknown as { width: number; height: number; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } } };
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let dark = 0;
    for (let i = 0; i < pixels.length; i += 4) if (pixels[i]! < 128) dark++;
    return dark;
  });
  expect(inked).toBeGreaterThan(100);
  expect(page.url()).toBe(pageUrl);
  await inBothThemes('report-pdf');
  await dialog.getByRole('button', { name: 'Close' }).click();
  expect(harness.pageErrors).toEqual([]);
}, 90_000);

it('shows a study the relay refuses as failed, with the reason and what to do', async () => {
  await generateStudy(join(stack.workDir, 'mr-export'), { instances: 3, rows: 64, columns: 64, modality: 'MR', patient: { name: 'BRAMBLEFORD^ORSON', id: 'SYN0000702' } });
  nextChoice = [join(stack.workDir, 'mr-export')];
  await nav('Import').click();
  const importMore = page.getByRole('button', { name: 'Import more' });
  if (await importMore.isVisible()) await importMore.click();
  await page.getByRole('button', { name: 'Choose folder…' }).click();
  await page.getByRole('row').filter({ hasText: 'BRAMBLEFORD, ORSON' }).waitFor({ timeout: 30_000 });
  await page.getByRole('button', { name: 'Send', exact: true }).click();
  await page.getByRole('button', { name: 'Open the queue' }).click();
  const failure = page.locator('.queue-item').filter({ hasText: 'BRAMBLEFORD, ORSON' });
  await expect.poll(() => failure.innerText(), { timeout: 30_000, interval: 200 }).toMatch(/Needs attention/);
  const text = await failure.innerText();
  expect(text).toMatch(/Why it failed: The relay refused 3 of 3 images: .*not on this relay's list of accepted SOP classes/);
  expect(text).toMatch(/What to do: /);
  expect(text).toMatch(/Error code: UPLOAD_REJECTED/);
  await page.getByRole('status', { name: 'Connection and activity' }).filter({ hasText: 'Needs attention' }).waitFor();
  await failure.scrollIntoViewIfNeeded();
  await inBothThemes('queue-failure');
  // Retry and Cancel are offered for it, by name.
  expect(await page.getByRole('button', { name: 'Retry BRAMBLEFORD, ORSON' }).isVisible()).toBe(true);
  await page.getByRole('button', { name: 'Cancel BRAMBLEFORD, ORSON' }).click();
  await expect.poll(() => failure.innerText(), { timeout: 10_000 }).toMatch(/Cancelled/);
}, 90_000);

it('watches a folder: added from the screen, live status, a study copied in is sent', async () => {
  const inbox = join(stack.workDir, 'modality-inbox');
  await mkdir(inbox);
  await nav('Watched folders').click();
  await page.getByRole('heading', { name: 'Watched folders', level: 1 }).waitFor();
  await page.getByLabel('Folder to watch').fill(inbox);
  await page.getByLabel('Service level').selectOption('STAT');
  await page.getByRole('button', { name: 'Add folder' }).click();
  const card = page.getByRole('listitem').filter({ hasText: inbox });
  await expect.poll(() => card.innerText(), { timeout: 15_000 }).toMatch(/Watching/);
  const watched = await generateStudy(join(stack.workDir, 'to-watch'), { instances: 3, rows: 64, columns: 64, patient: { name: 'CASTERLY^INGRID', id: 'SYN0000703' } });
  for (const instance of watched.instances) await copyFile(instance.path, join(inbox, `IM${instance.instanceNumber}`));
  await expect.poll(() => card.innerText(), { timeout: 15_000, interval: 100 }).toMatch(/Last file seen\s*IM\d at /);
  await expect.poll(() => stack.heldInOrthanc(watched.instances.map((i) => i.sopInstanceUid)), { timeout: 30_000, interval: 250 }).toBe(3);
  await page.getByRole('heading', { name: 'Watched folders', level: 1 }).scrollIntoViewIfNeeded();
  await inBothThemes('watched-folders');
}, 90_000);

it('shows settings, with what IT policy locked shown as locked', async () => {
  await nav('Settings').click();
  await page.getByRole('heading', { name: 'Settings', level: 1 }).waitFor();
  await page.getByLabel('Relay address').waitFor();
  expect(await page.getByLabel('Relay address').inputValue()).toBe(stack.relayUrl);
  await inBothThemes('settings');
  // IT policy fixed the updates: shown locked, with words, and not editable.
  const updates = page.getByRole('group', { name: 'Updates' });
  await updates.scrollIntoViewIfNeeded();
  expect(await updates.getByText('Locked: Set by your IT department').isVisible()).toBe(true);
  expect(await page.getByLabel('Update channel').isDisabled()).toBe(true);
  expect(await page.getByLabel('Relay address').isDisabled()).toBe(false);
  await inBothThemes('settings-locked');
  // Nothing went wrong in the page along the way.
  expect(harness.pageErrors).toEqual([]);
}, 30_000);
