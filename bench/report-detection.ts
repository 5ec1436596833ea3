// Benchmark: what looking for reports costs the PACS, and how soon a report is told.
//   npm run bench:reports -- [--studies 1000] [--hours 24] [--reports 5]
// Results: bench/results/report-detection.json.
//
// Load: a real Orthanc (with its DICOMweb plugin) holds `--studies` studies that the relay watches
// and that get no report. The relay's report monitor (in this process, on SQLite, its clock driven
// here) runs its rounds over `--hours` simulated hours, one round per simulated minute for the
// DICOMweb destination (QIDO-RS) and one per 10 s for an hour for the Orthanc REST destination (its
// change feed); every request the PACS receives is counted. Detection: the monitor's own loop in
// real time, defaults as shipped (feed read every 10 s), and `--reports` reports stored with
// storescu one after another: the time from storescu's exit to the `report` event.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { generateStudy, OrthancServer, SeededRandom, writeReportDocument, type GeneratedStudy } from '@relaypacs/testkit';
import { parseRelayConfig } from '../server/src/config/relay-config.js';
import { DestinationHttpClient, type HttpAnswer, type HttpRequest } from '../server/src/destinations/destination-http.js';
import { createRelayServices, type RelayServices } from '../server/src/relay-services.js';
import { OrthancChangesFinder } from '../server/src/reports/orthanc-changes-finder.js';
import { QidoReportFinder } from '../server/src/reports/qido-report-finder.js';
import type { ReportFinder } from '../server/src/reports/report-finder.js';
import { median, round } from './bench-world.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: { studies: { type: 'string', default: '1000' }, hours: { type: 'string', default: '24' }, reports: { type: 'string', default: '5' } } });
const studyCount = Number(values.studies);
const hours = Number(values.hours);
const reportCount = Number(values.reports);
const log = (message: string) => console.error(`bench reports: ${message}`);

/** The HTTP client of a finder, counting what it asks the PACS. */
class CountingHttpClient extends DestinationHttpClient {
  requests = 0;
  override exchange(url: string, request: HttpRequest): Promise<HttpAnswer> {
    this.requests++;
    return super.exchange(url, request);
  }
}

const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-bench-reports-'));
let orthanc: OrthancServer | undefined;
const opened: RelayServices[] = [];
try {
  orthanc = await OrthancServer.start();
  log(`storing ${studyCount} one-instance studies into Orthanc...`);
  const studies: GeneratedStudy[] = [];
  for (let i = 0; i < studyCount; i++) {
    const study = await generateStudy(join(workDir, 'studies', String(i)), { instances: 1, rows: 8, columns: 8 });
    await orthanc.uploadInstance(study.instances[0]!.path);
    studies.push(study);
  }

  // ---- Load: simulated hours, real PACS ----
  const startAt = Date.parse('2030-01-01T08:00:00Z');
  let clockMs = startAt;
  const qidoHttp = new CountingHttpClient({ auth: { type: 'none' }, timeoutMs: 30_000 });
  const feedHttp = new CountingHttpClient({ auth: { type: 'none' }, timeoutMs: 30_000 });
  const finders = new Map<string, ReportFinder>([
    ['dicomweb', new QidoReportFinder(orthanc.dicomWebUrl, qidoHttp)],
    ['orthanc', new OrthancChangesFinder(orthanc.baseUrl, feedHttp)],
  ]);
  const dataDir = join(workDir, 'relay');
  await mkdir(dataDir, { recursive: true });
  const services = await createRelayServices(parseRelayConfig({
    dataDir, port: 0, destinations: [{ name: 'dicomweb', kind: 'stow-rs', url: orthanc.dicomWebUrl }, { name: 'orthanc', kind: 'orthanc-rest', url: orthanc.baseUrl }],
  }), { now: () => new Date(clockMs), reportFinders: finders });
  opened.push(services);
  const monitor = services.reports;
  for (const [index, study] of studies.entries()) {
    for (const destination of ['dicomweb', 'orthanc']) {
      await monitor.watchDelivered({ uploadId: `bench-${index}`, destination, studyInstanceUid: study.studyInstanceUid, userId: 1 });
    }
  }
  // The DICOMweb destination: a round per simulated minute; requests per simulated hour.
  const qidoPerHour: number[] = [];
  const orthancFinder = finders.get('orthanc')!;
  finders.delete('orthanc');
  const loadStarted = performance.now();
  for (let hour = 0; hour < hours; hour++) {
    const before = qidoHttp.requests;
    for (let minute = 0; minute < 60; minute++) {
      clockMs += 60_000;
      await monitor.round();
    }
    qidoPerHour.push(qidoHttp.requests - before);
  }
  log(`DICOMweb: ${qidoPerHour.join(', ')} requests per simulated hour (${round((performance.now() - loadStarted) / 1000)} s)`);
  // The Orthanc REST destination: its feed every 10 s for one simulated hour.
  finders.clear();
  finders.set('orthanc', orthancFinder);
  await monitor.round(); // the first read starts the feed and looks every watched study up once
  const feedFirstRound = feedHttp.requests;
  const feedBefore = feedHttp.requests;
  for (let step = 0; step < 360; step++) {
    clockMs += 10_000;
    await monitor.round();
  }
  const feedPerHour = feedHttp.requests - feedBefore;
  log(`Orthanc REST: first round ${feedFirstRound} requests (each watched study looked up once), then ${feedPerHour} per hour`);
  await services.close();
  opened.pop();

  // ---- Detection: real time, shipped defaults, the monitor's own loop ----
  const liveDir = join(workDir, 'relay-live');
  await mkdir(liveDir, { recursive: true });
  const live = await createRelayServices(parseRelayConfig({
    dataDir: liveDir, port: 0, destinations: [{ name: 'orthanc', kind: 'orthanc-rest', url: orthanc.baseUrl }],
  }));
  opened.push(live);
  const detectionMs: number[] = [];
  const targets = studies.slice(0, reportCount);
  for (const [index, study] of targets.entries()) await live.reports.watchDelivered({ uploadId: `live-${index}`, destination: 'orthanc', studyInstanceUid: study.studyInstanceUid, userId: 1 });
  await live.reports.round(); // the feed starts at its end, as a relay's first round does
  live.reports.start();
  const random = new SeededRandom(7);
  for (const [index, study] of targets.entries()) {
    // Stored at a random moment of the feed's 10 s period, as reports come: not just after a read.
    await new Promise((resolve) => setTimeout(resolve, random.next() * 10_000));
    const document = await writeReportDocument(join(workDir, 'reports'), study, { kind: 'report-sr' });
    const told = new Promise<number>((resolve) => {
      const stop = live.events.subscribe('all', (event) => {
        if (event.type === 'report' && event.uploadId === `live-${index}`) {
          stop();
          resolve(performance.now());
        }
      });
    });
    await run('storescu', ['-aec', orthanc.aet, '127.0.0.1', String(orthanc.dicomPort), document.path]);
    const stored = performance.now();
    detectionMs.push((await Promise.race([told, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no report event within 60 s')), 60_000))])) - stored);
  }
  log(`detection (Orthanc change feed, read every 10 s): ${detectionMs.map((ms) => round(ms / 1000)).join(', ')} s`);

  const results = {
    date: new Date().toISOString(),
    machine: '2 cores (see docs/BENCHMARKS.md)',
    studiesWatched: studyCount,
    dicomWeb: {
      simulatedHours: hours,
      requestsPerHour: qidoPerHour,
      firstHour: qidoPerHour[0],
      steadyPerHour: median(qidoPerHour.slice(Math.min(2, qidoPerHour.length - 1))),
      total: qidoPerHour.reduce((a, b) => a + b, 0),
    },
    orthancChangeFeed: { firstRoundRequests: feedFirstRound, requestsPerHour: feedPerHour },
    detection: { source: 'orthanc-changes', feedIntervalSeconds: 10, seconds: detectionMs.map((ms) => round(ms / 1000)), medianSeconds: round(median(detectionMs) / 1000), maxSeconds: round(Math.max(...detectionMs) / 1000) },
  };
  await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
  await writeFile(join(import.meta.dirname, 'results', 'report-detection.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log(JSON.stringify(results, null, 2));
} finally {
  for (const services of opened) await services.close().catch(() => undefined);
  await orthanc?.stop();
  await rm(workDir, { recursive: true, force: true });
}
