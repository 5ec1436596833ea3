// Benchmark: RelayPACS against the tools users would pick instead, side by side in one run against
// one real Orthanc on loopback.
//   1. a CT study (400 × 512×512 16-bit, ~200 MB): `relaypacs upload --wait` through the relay until
//      delivered, vs curl posting the study as one STOW-RS request to Orthanc, vs DCMTK storescu C-STORE
//   2. 2,000 small instances (~10 KB): the same three ways
//   3. one 1.2 GB multi-frame instance through agent + relay: time and peak RSS of each
//   4. import indexing vs dcmftest (bench/import-indexing.ts, run as a child)
// Each method runs --runs times, interleaved, and the study is deleted from Orthanc after every run so
// each run stores the same work. Medians and ratios go to bench/results/bench.json; the full run also
// rewrites the results section of docs/BENCHMARKS.md and docs/benchmarks.svg.
// Beside the three, curl posting the study as two STOW-RS requests at once (half each) shows how fast
// this Orthanc stores with both cores busy: no uploader going through it can beat that.
//   npm run bench -- [--runs 3] [--short] [--skip-large] [--skip-import] [--only ct,small,large,import]
// --only runs the workloads named (results to bench/results/bench-partial.json, docs untouched).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { parseArgs, promisify } from 'node:util';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { barChartSvg } from './svg-chart.js';
import { BenchWorld, median, round, vmHwmBytes, vmRssBytes, type BenchRelay } from './bench-world.js';
import { buildForBench } from './builds.js';
import { replaceBenchmarksSection } from './doc-section.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: {
  runs: { type: 'string' }, short: { type: 'boolean' }, 'skip-large': { type: 'boolean' }, 'skip-import': { type: 'boolean' }, 'no-docs': { type: 'boolean' }, only: { type: 'string' },
} });
const short = values.short === true;
const runs = Number(values.runs ?? (short ? 1 : 3));
const WORKLOADS = ['ct', 'small', 'large', 'import'] as const;
const only = values.only?.split(',').map((w) => w.trim());
const unknown = only?.filter((w) => !(WORKLOADS as readonly string[]).includes(w)) ?? [];
if (unknown.length > 0) throw new Error(`--only: unknown workload ${unknown.join(', ')} (known: ${WORKLOADS.join(', ')})`);
const wanted = (workload: (typeof WORKLOADS)[number]) => only === undefined || only.includes(workload);
const ROOT = join(import.meta.dirname, '..');
const sizes = short
  ? { ct: { instances: 40, rows: 256, columns: 256 }, small: { instances: 200, rows: 64, columns: 64 }, largeFrames: 32, importFiles: 1000 }
  : { ct: { instances: 400, rows: 512, columns: 512 }, small: { instances: 2000, rows: 64, columns: 64 }, largeFrames: 573, importFiles: 10000 };

const seconds = (from: number) => (performance.now() - from) / 1000;
const log = (message: string) => console.error(`bench: ${message}`);

function machine() {
  const model = cpus()[0]?.model ?? 'unknown';
  return { cores: cpus().length, cpuModel: model, ramGiB: round(totalmem() / 1024 ** 3, 1), node: process.version, kernel: execFileSync('uname', ['-r']).toString().trim() };
}

// Measured compiled, as deployed (bench/builds.ts).
const { relayBuild, agentBuild, relayEnv, agentEnv } = await buildForBench(log);

const world = await BenchWorld.start('all', agentEnv);
const { workDir, orthanc } = world;
let relay: BenchRelay | undefined;
try {
  relay = await world.startRelay('relay', relayEnv);
  const relayPid = relay.process.pid!;
  const deleteStudy = (study: GeneratedStudy) => world.deleteStudy(study);
  const heldCount = (study: GeneratedStudy) => world.heldCount(study);
  const agentUpload = (study: GeneratedStudy, dir: string, relayUrl = relay!.url) => world.agentUpload(study, dir, relayUrl);

  /** The body of one multipart/related STOW-RS request (PS3.18 §10.5), written once, untimed. */
  async function stowBody(instances: GeneratedStudy['instances'], path: string): Promise<string> {
    const boundary = `bench-${randomBytes(12).toString('hex')}`;
    const parts: Buffer[] = [];
    for (const instance of instances) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), await readFile(instance.path), Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    await writeFile(path, Buffer.concat(parts));
    return boundary;
  }

  async function curlStow(study: GeneratedStudy, body: string, boundary: string): Promise<number> {
    const started = performance.now();
    await postStow(body, boundary);
    const elapsed = seconds(started);
    const held = await heldCount(study);
    if (held !== study.instances.length) throw new Error(`curl: Orthanc holds ${held} of ${study.instances.length}`);
    return elapsed;
  }

  /** The study as two STOW-RS requests at once, half each: what Orthanc stores with both cores busy. */
  async function curlStowTwice(study: GeneratedStudy, halves: { body: string; boundary: string }[]): Promise<number> {
    const started = performance.now();
    await Promise.all(halves.map((half) => postStow(half.body, half.boundary)));
    const elapsed = seconds(started);
    const held = await heldCount(study);
    if (held !== study.instances.length) throw new Error(`curl ×2: Orthanc holds ${held} of ${study.instances.length}`);
    return elapsed;
  }

  async function postStow(body: string, boundary: string): Promise<void> {
    const { stdout } = await run('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '--data-binary', `@${body}`,
      '-H', `Content-Type: multipart/related; type="application/dicom"; boundary=${boundary}`, '-H', 'Accept: application/dicom+json',
      `${orthanc.dicomWebUrl}/studies`], { maxBuffer: 1024 * 1024 });
    if (stdout.trim() !== '200') throw new Error(`curl STOW-RS: HTTP ${stdout}`);
  }

  async function storescu(study: GeneratedStudy, dir: string): Promise<number> {
    const started = performance.now();
    await run('storescu', ['-aet', 'BENCHSCU', '-aec', orthanc.aet, '+sd', '+r', '127.0.0.1', String(orthanc.dicomPort), dir], { maxBuffer: 64 * 1024 * 1024 });
    const elapsed = seconds(started);
    const held = await heldCount(study);
    if (held !== study.instances.length) throw new Error(`storescu: Orthanc holds ${held} of ${study.instances.length}`);
    return elapsed;
  }

  async function threeWays(name: string, spec: { instances: number; rows: number; columns: number }) {
    log(`${name}: generating ${spec.instances} instances of ${spec.rows}×${spec.columns}...`);
    const dir = join(workDir, name);
    const shared = await generateStudy(join(dir, 'shared'), { ...spec, series: 2 });
    const studyBytes = shared.instances.reduce((sum, i) => sum + i.size, 0);
    const body = join(dir, 'stow-body.mpr');
    const boundary = await stowBody(shared.instances, body);
    const middle = Math.ceil(shared.instances.length / 2);
    const halves = await Promise.all([shared.instances.slice(0, middle), shared.instances.slice(middle)].map(async (instances, i) => {
      const path = join(dir, `stow-half-${i}.mpr`);
      return { body: path, boundary: await stowBody(instances, path) };
    }));
    const agentStudies: GeneratedStudy[] = [];
    for (let r = 0; r < runs; r++) agentStudies.push(await generateStudy(join(dir, `agent-${r}`), { ...spec, series: 2 }));
    const times = { agent: [] as number[], curl: [] as number[], curlTwice: [] as number[], storescu: [] as number[] };
    for (let r = 0; r < runs; r++) {
      // Interleaved, so a noisy neighbour on the machine hits all three alike.
      times.curl.push(await curlStow(shared, body, boundary));
      await deleteStudy(shared);
      times.curlTwice.push(await curlStowTwice(shared, halves));
      await deleteStudy(shared);
      times.storescu.push(await storescu(shared, join(dir, 'shared')));
      await deleteStudy(shared);
      times.agent.push((await agentUpload(agentStudies[r]!, join(dir, `agent-${r}`))).seconds);
      await deleteStudy(agentStudies[r]!);
      log(`${name} run ${r + 1}/${runs}: agent ${times.agent.at(-1)!.toFixed(2)} s, curl STOW-RS ${times.curl.at(-1)!.toFixed(2)} s, curl ×2 ${times.curlTwice.at(-1)!.toFixed(2)} s, storescu ${times.storescu.at(-1)!.toFixed(2)} s`);
    }
    await rm(dir, { recursive: true, force: true });
    const agent = median(times.agent);
    const curl = median(times.curl);
    const curlTwice = median(times.curlTwice);
    const scu = median(times.storescu);
    return {
      instances: spec.instances, rows: spec.rows, columns: spec.columns, studyBytes, runs,
      seconds: { agent: times.agent.map((t) => round(t)), curlStowRs: times.curl.map((t) => round(t)), curlStowRsTwoAtOnce: times.curlTwice.map((t) => round(t)), storescu: times.storescu.map((t) => round(t)) },
      medianSeconds: { agent: round(agent), curlStowRs: round(curl), curlStowRsTwoAtOnce: round(curlTwice), storescu: round(scu) },
      ratioAgentToStowRs: round(agent / curl),
      ratioStorescuToAgent: round(scu / agent),
      /** The most any uploader through this Orthanc could be faster than storescu. */
      ratioStorescuToTwoAtOnce: round(scu / curlTwice),
    };
  }

  const ct = wanted('ct') ? await threeWays('ct', sizes.ct) : undefined;
  const small = wanted('small') ? await threeWays('small', sizes.small) : undefined;

  let large: Record<string, unknown> | undefined;
  if (!values['skip-large'] && wanted('large')) {
    const frames = sizes.largeFrames;
    log(`large: generating one ${frames}-frame instance (~${(frames * 2 / 1024).toFixed(2)} GiB)...`);
    const dir = join(workDir, 'large');
    const study = await generateStudy(dir, { instances: 1, rows: 1024, columns: 1024, frames });
    // The shared relay, after the workloads above: what a relay that has been working holds.
    const sharedRelayRss = ct || small ? await vmRssBytes(relayPid) : undefined;
    // A relay of its own, so its peak (VmHWM, start-up and sign-in included) is this transfer's.
    const largeRelay = await world.startRelay('relay-large', relayEnv);
    let result: Awaited<ReturnType<typeof agentUpload>>;
    let relayPeak: number;
    try {
      result = await agentUpload(study, dir, largeRelay.url);
      relayPeak = await vmHwmBytes(largeRelay.process.pid!);
    } finally {
      await largeRelay.process.stop();
    }
    await deleteStudy(study);
    await rm(dir, { recursive: true, force: true });
    large = {
      instanceBytes: study.instances[0]!.size, frames, seconds: round(result.seconds),
      throughputMiBps: round(study.instances[0]!.size / 1024 ** 2 / result.seconds, 1),
      agentPeakRssMiB: round(result.agentPeakRssBytes / 1024 ** 2, 1),
      relayPeakRssMiB: round(relayPeak / 1024 ** 2, 1),
      ...(sharedRelayRss === undefined ? {} : { sharedRelayRssAfterOtherWorkloadsMiB: round(sharedRelayRss / 1024 ** 2, 1) }),
    };
    log(`large: ${JSON.stringify(large)}`);
  }

  let importIndexing: Record<string, unknown> | undefined;
  if (!values['skip-import'] && wanted('import')) {
    log(`import: ${sizes.importFiles} files vs dcmftest (bench/import-indexing.ts)...`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'import-indexing.ts'), '--files', String(sizes.importFiles), '--runs', String(runs), '--gib', short ? '0.05' : '1', '--results-file', short ? 'import-indexing-short.json' : 'import-indexing.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    const [code] = await once(child, 'exit') as [number | null];
    if (code !== 0) throw new Error(`import-indexing benchmark exited ${code}`);
    importIndexing = JSON.parse(output) as Record<string, unknown>;
  }

  const date = new Date().toISOString();
  const resultsDir = join(import.meta.dirname, 'results');
  const fullResults = join(resultsDir, short ? 'bench-short.json' : 'bench.json');
  // --only reruns some workloads: their figures replace those of the last full run, each workload
  // keeping the date it was measured.
  const previous = only ? JSON.parse(await readFile(fullResults, 'utf8').catch(() => '{}')) as Partial<Result> : {};
  const stamp = <T extends object>(workload: T | undefined, at = date) => (workload ? { date: at, ...workload } : undefined);
  const merged = {
    ct: stamp(ct) ?? stamp(previous.ct, previous.date), small: stamp(small) ?? stamp(previous.small, previous.date),
    large: stamp(large) ?? stamp(previous.large, previous.date), importIndexing: importIndexing ?? previous.importIndexing,
  };
  const result = {
    date, short, machine: machine(), relayBuild, agentBuild,
    ...merged,
    aims: {
      ctAtMost1_25xStowRs: merged.ct ? merged.ct.ratioAgentToStowRs <= 1.25 : undefined,
      ctAtLeast3xFasterThanStorescu: merged.ct ? merged.ct.ratioStorescuToAgent >= 3 : undefined,
      smallAtMost1_5xStowRs: merged.small ? merged.small.ratioAgentToStowRs <= 1.5 : undefined,
      largeRssUnder256MiB: merged.large ? (merged.large.agentPeakRssMiB as number) < 256 && (merged.large.relayPeakRssMiB as number) < 256 : undefined,
    },
  };
  console.log(JSON.stringify(result, null, 2));
  await mkdir(resultsDir, { recursive: true });
  await writeFile(fullResults, `${JSON.stringify(result, null, 2)}\n`);
  if (!short && !values['no-docs'] && result.ct && result.small) await writeDocs({ ...result, ct: result.ct, small: result.small });
} finally {
  await relay?.process.stop();
  await world.stop();
}

interface ThreeWays { date?: string; instances: number; studyBytes: number; runs: number; seconds: { agent: number[]; curlStowRs: number[] }; medianSeconds: { agent: number; curlStowRs: number; curlStowRsTwoAtOnce: number; storescu: number }; ratioAgentToStowRs: number; ratioStorescuToAgent: number; ratioStorescuToTwoAtOnce: number }
interface Result { date: string; machine: ReturnType<typeof machine>; ct: ThreeWays; small: ThreeWays; large?: Record<string, unknown> | undefined; importIndexing?: Record<string, unknown> | undefined; aims: Record<string, boolean | undefined> }

/** Rewrites the generated section of docs/BENCHMARKS.md and docs/benchmarks.svg. */
async function writeDocs(result: Result): Promise<void> {
  const svg = barChartSvg({
    title: `Time to deliver into Orthanc, median of ${result.ct.runs} runs (${result.date.slice(0, 10)})`, unit: 's',
    series: ['relaypacs upload --wait (agent → relay → STOW-RS)', 'curl STOW-RS', 'curl STOW-RS, two halves at once', 'storescu C-STORE'],
    groups: [
      { label: `CT ${result.ct.instances} × 512² (${(result.ct.studyBytes / 1e6).toFixed(0)} MB)`, values: [result.ct.medianSeconds.agent, result.ct.medianSeconds.curlStowRs, result.ct.medianSeconds.curlStowRsTwoAtOnce, result.ct.medianSeconds.storescu] },
      { label: `${result.small.instances} small (${(result.small.studyBytes / 1e6).toFixed(0)} MB)`, values: [result.small.medianSeconds.agent, result.small.medianSeconds.curlStowRs, result.small.medianSeconds.curlStowRsTwoAtOnce, result.small.medianSeconds.storescu] },
    ],
  });
  await writeFile(join(ROOT, 'docs/benchmarks.svg'), svg);
  const m = result.machine;
  const yes = (ok: boolean | undefined) => (ok === undefined ? 'not measured' : ok ? 'met' : '**not met**');
  const row = (name: string, r: Result['ct']) => `| ${name} | ${r.medianSeconds.agent} s | ${r.medianSeconds.curlStowRs} s | ${r.medianSeconds.curlStowRsTwoAtOnce} s | ${r.medianSeconds.storescu} s | ${r.ratioAgentToStowRs} | ${r.ratioStorescuToAgent} |`;
  const lines = [
    '<!-- bench:start (generated by `npm run bench`; edit the text outside these markers) -->',
    `Measured ${(result.ct.date ?? result.date).slice(0, 16).replace('T', ' ')} UTC on ${m.cores} cores (${m.cpuModel}), ${m.ramGiB} GiB RAM, Node ${m.node}, Linux ${m.kernel}; median of ${result.ct.runs} runs each, interleaved. Seconds per run: CT agent ${result.ct.seconds.agent.join(' / ')}, curl ${result.ct.seconds.curlStowRs.join(' / ')}; small agent ${result.small.seconds.agent.join(' / ')}, curl ${result.small.seconds.curlStowRs.join(' / ')}.`,
    '',
    '![Benchmark chart](benchmarks.svg)',
    '',
    '| workload | relaypacs upload --wait | curl STOW-RS | curl STOW-RS, two halves at once | storescu | agent / STOW-RS | storescu / agent |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    row(`CT, ${result.ct.instances} instances, ${(result.ct.studyBytes / 1e6).toFixed(0)} MB`, result.ct),
    row(`small, ${result.small.instances} instances, ${(result.small.studyBytes / 1e6).toFixed(1)} MB`, result.small),
    '',
  ];
  if (result.large) {
    const l = result.large;
    lines.push('| one multi-frame instance | time | throughput | agent peak RSS | relay peak RSS |', '| --- | --- | --- | --- | --- |',
      `| ${((l.instanceBytes as number) / 1e9).toFixed(2)} GB, ${l.frames as number} frames | ${l.seconds as number} s | ${l.throughputMiBps as number} MiB/s | ${l.agentPeakRssMiB as number} MiB | ${l.relayPeakRssMiB as number} MiB |`, '',
      `The large instance went through a relay of its own (measured ${String(l.date ?? result.date).slice(0, 16).replace('T', ' ')} UTC), so its peak is this transfer's, start-up and sign-in included.${l.sharedRelayRssAfterOtherWorkloadsMiB === undefined ? '' : ` The relay that had carried the CT and small runs held ${l.sharedRelayRssAfterOtherWorkloadsMiB as number} MiB at that point (V8 and malloc keep what they grew to).`}`, '');
  }
  if (result.importIndexing) {
    const i = result.importIndexing;
    lines.push(`Import indexing, ${i.files as number} files: RelayPACS ${i.relaypacsMedianSeconds as number} s, dcmftest ${i.dcmftestMedianSeconds as number} s (ratio ${i.ratioRelaypacsToDcmftest as number}; Node reading every byte: ${i.nodeReadAllBytesMedianSeconds as number} s).`, '');
  }
  lines.push('| aim | result |', '| --- | --- |',
    `| CT: at most 1.25 × direct STOW-RS | ${yes(result.aims.ctAtMost1_25xStowRs)} (${result.ct.ratioAgentToStowRs} ×) |`,
    `| CT: at least 3 × faster than storescu | ${yes(result.aims.ctAtLeast3xFasterThanStorescu)} (${result.ct.ratioStorescuToAgent} ×) |`,
    `| small: at most 1.5 × direct STOW-RS | ${yes(result.aims.smallAtMost1_5xStowRs)} (${result.small.ratioAgentToStowRs} ×) |`,
    `| 1.2 GB instance: agent and relay each under 256 MiB | ${yes(result.aims.largeRssUnder256MiB)} |`,
    '<!-- bench:end -->');
  await replaceBenchmarksSection('bench', lines.join('\n'), `RelayPACS vs curl STOW-RS vs storescu (\`npm run bench\`)`);
}
