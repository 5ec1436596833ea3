// Malformed input: a seeded mutation fuzzer feeds damaged DICOM files, ZIPs and DICOMDIRs to the
// desktop import (into a real SQLite catalog) and DICOM files to the relay's Part 10 validator,
// some of them through the relay's upload protocol over HTTP. Per input: no exception may escape
// (the import records a skip that names the file, the validator answers a refusal), no stage may
// take longer than STAGE_LIMIT_MS (a hang), and the target process's resident set must stay under
// RSS_LIMIT_BYTES and grow by at most GROWTH_LIMIT_BYTES for one input. The seed is printed;
// RELAYPACS_FUZZ_SEED=S reproduces a run, RELAYPACS_FUZZ_ONLY=I[,J...] replays single iterations
// of it, RELAYPACS_FUZZ_ITERATIONS and RELAYPACS_FUZZ_SECONDS change the count and the time box.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ERROR_CODES } from '../desktop/src/common/error-codes.js';
import { INSTANCE_REJECTION_CODES } from '../server/src/protocol/error-codes.js';
import { canaryLogDir, canaryPatient, canaryToken, recordResult, SHORT } from './canary.js';
import { HarnessClient, type HarnessJob, type HarnessResult, type RunOutcome } from './fuzz-harness-client.js';
import { fuzzSeed } from './fuzz-random.js';
import { buildCorpus, makeMutant, SCHEDULE, type Corpus, type Mutant } from './malformed-corpus.js';

const SEED = fuzzSeed();
const env = process.env;
const ITERATIONS = Number(env.RELAYPACS_FUZZ_ITERATIONS ?? (SHORT ? 300 : 6000));
const TIME_BOX_MS = Number(env.RELAYPACS_FUZZ_SECONDS ?? (SHORT ? 50 : 720)) * 1000;
const ONLY = env.RELAYPACS_FUZZ_ONLY ? env.RELAYPACS_FUZZ_ONLY.split(',').map(Number) : undefined;
/** A stage (import, validate, upload) of one input taking longer than this is a hang. */
const STAGE_LIMIT_MS = 5_000;
/**
 * The target process's resident set, measured per input. That one process holds the import, the
 * relay (Fastify, its SQLite, the validator) and the TypeScript loader: about 200 MB at start, and
 * V8 keeps its heap grown after a large parse (the heap in use stays flat; see the leak check), so
 * it settles near 400 MB. The sharper tests are the next two.
 */
const RSS_LIMIT_BYTES = 512 * 1024 * 1024;
/** How much one input may add to the resident set it found: a file that costs far more than its size. */
const GROWTH_LIMIT_BYTES = 200 * 1024 * 1024;
/** How much the V8 heap in use may grow from the first input to the last (after a collection): a leak. */
const HEAP_GROWTH_LIMIT_BYTES = 64 * 1024 * 1024;
/** Past this the child is killed on the spot: the input would only take the machine down. */
const KILL_RSS_BYTES = 2 * 1024 * 1024 * 1024;
/** Every DICOM mutant whose iteration is a multiple of this also goes through the upload protocol. */
const HTTP_EVERY = 7;
/** Deflated bombs: just over the relay's 16 MiB header budget, under the importer's 256 MiB inflate cap, over it. */
const BOMB_SIZES = [24 * 1024 * 1024, 200 * 1024 * 1024, 600 * 1024 * 1024];

/** Words of a JavaScript error caught by a catch-all and shown as a reason: not a failure, but counted. */
const INTERNAL_ERROR = /RangeError|TypeError|Maximum call stack size exceeded|is not a function|Cannot read propert|\(undefined\)/;
/** How often each such error showed in the import's reasons. */
const internalReasons = new Map<string, number>();

type Failure = { iteration: number; mutator: string; seed: string; kind: string; stage: string; detail: string; message: string; saved?: string };

interface MutatorStats {
  runs: number;
  failures: number;
  importer: Record<string, number>;
  validator: Record<string, number>;
  http: number;
  slowestMs: number;
  peakRssBytes: number;
  /** Largest peak over the resident set the input started from. */
  peakGrowthBytes: number;
}

let workDir: string;
let corpus: Corpus;
let harness: HarnessClient;
let harnessLives = 0;
const failDir = join(tmpdir(), `relaypacs-malformed-failures-${SEED}`);

beforeAll(async () => {
  console.log(`malformed-input: seed ${SEED} (RELAYPACS_FUZZ_SEED=${SEED} reproduces this run)`);
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-faults-malformed-'));
  await rm(failDir, { recursive: true, force: true });
  const started = performance.now();
  corpus = await buildCorpus(join(workDir, 'corpus'), canaryPatient(), { bombSizes: BOMB_SIZES });
  console.log(`malformed-input: corpus of ${corpus.seeds.length} instances, ${corpus.zips.length} ZIPs, a DICOMDIR and ${corpus.bombs.length} deflate bombs built in ${Math.round(performance.now() - started)} ms`);
  await mkdir(join(workDir, 'mutants'), { recursive: true });
  harness = await startHarness();
}, 120_000);

afterAll(async () => {
  await harness?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

async function startHarness(): Promise<HarnessClient> {
  const logDir = join(canaryLogDir(), 'malformed-input');
  await mkdir(logDir, { recursive: true });
  harnessLives++;
  return HarnessClient.start(join(workDir, 'harness'), join(logDir, `harness-${harnessLives}.log`), process.env);
}

/** Writes the mutant where its target expects it and describes the job. */
async function jobFor(mutant: Mutant): Promise<HarnessJob> {
  if (mutant.target === 'dicomdir') {
    const path = join(corpus.mediaRoot, 'DICOMDIR');
    await writeFile(path, mutant.bytes);
    return { iteration: mutant.iteration, target: 'dicomdir', path, importPath: corpus.mediaRoot, http: false };
  }
  const path = join(workDir, 'mutants', `m${mutant.iteration}.${mutant.target === 'zip' ? 'zip' : 'dcm'}`);
  await writeFile(path, mutant.bytes);
  return {
    iteration: mutant.iteration, target: mutant.target, path, importPath: path,
    ...(mutant.ids ? { ids: mutant.ids } : {}),
    http: mutant.target === 'dicom' && mutant.iteration % HTTP_EVERY === 0 && mutant.bytes.length > 0,
  };
}

/**
 * Runs one job. A harness that hung, died or grew past the memory bound is replaced (a process
 * left holding too much would be blamed for the next inputs too), and a hang is tried once more
 * on a fresh one: a loaded machine can stall one input, a real hang hangs again.
 */
async function runJob(job: HarnessJob): Promise<{ outcome: RunOutcome; retried: boolean; restarted: boolean }> {
  const replace = async () => {
    await harness.kill();
    harness = await startHarness();
  };
  let outcome = await harness.run(job, STAGE_LIMIT_MS, KILL_RSS_BYTES);
  if (outcome.kind === 'done' && outcome.peakRss <= RSS_LIMIT_BYTES) return { outcome, retried: false, restarted: false };
  await replace();
  if (outcome.kind !== 'hang') return { outcome, retried: false, restarted: true };
  outcome = await harness.run(job, STAGE_LIMIT_MS, KILL_RSS_BYTES);
  if (outcome.kind !== 'done') await replace();
  return { outcome, retried: true, restarted: true };
}

/** Problems with a finished input: exceptions that escaped, reasons that do not name the file, wrong codes, leaks. */
function check(mutant: Mutant, job: HarnessJob, result: HarnessResult): { kind: string; stage: string; message: string }[] {
  const problems: { kind: string; stage: string; message: string }[] = [];
  const token = canaryToken();
  const imported = result.import;
  if (!imported.ok || !imported.counts || !imported.skips) {
    problems.push({ kind: 'crash', stage: 'import', message: `exception escaped ImportService.run: ${imported.error}` });
  } else {
    const { found, imported: added, duplicates, conflicts, skipped } = imported.counts;
    if (found < 1 || added + duplicates + conflicts + skipped !== found || imported.skips.length !== skipped) {
      problems.push({ kind: 'accounting', stage: 'import', message: `counts do not add up: ${JSON.stringify(imported.counts)}, ${imported.skips.length} skips recorded` });
    }
    if (mutant.target === 'dicom' && found !== 1) problems.push({ kind: 'accounting', stage: 'import', message: `one file found as ${found}` });
    for (const skip of imported.skips) {
      const names = mutant.target === 'dicomdir' ? skip.displayName.startsWith(corpus.mediaRoot) : skip.displayName.includes(basename(job.path));
      if (!names) problems.push({ kind: 'reason', stage: 'import', message: `skip does not name the file: ${JSON.stringify(skip.displayName)}` });
      if (!(skip.code in ERROR_CODES)) problems.push({ kind: 'reason', stage: 'import', message: `unknown code ${skip.code}` });
      if (skip.code === 'INTERNAL') problems.push({ kind: 'reason', stage: 'import', message: `INTERNAL error for bad input: ${skip.reason}` });
      // Mutants are always readable files: "unreadable" would be a parser error reported as I/O.
      // (A DICOMDIR may list files that are not there: that one is right.)
      if (skip.code === 'FILE_UNREADABLE' && mutant.target !== 'dicomdir') problems.push({ kind: 'reason', stage: 'import', message: `a readable file recorded as unreadable: ${skip.reason}` });
      const internal = INTERNAL_ERROR.exec(skip.reason);
      if (internal) internalReasons.set(internal[0], (internalReasons.get(internal[0]) ?? 0) + 1);
      if (typeof skip.reason !== 'string' || skip.reason.trim().length < 5) problems.push({ kind: 'reason', stage: 'import', message: `empty reason for ${skip.code}` });
      if (skip.reason.toUpperCase().includes(token)) problems.push({ kind: 'phi', stage: 'import', message: `reason shows patient data: ${skip.code}` });
    }
  }
  const validated = result.validate;
  if (validated) {
    if (!validated.ok) problems.push({ kind: 'crash', stage: 'validate', message: `exception escaped validatePart10: ${validated.error}` });
    else if (validated.verdict !== 'accepted') {
      if (!(validated.verdict! in INSTANCE_REJECTION_CODES)) problems.push({ kind: 'reason', stage: 'validate', message: `unknown code ${validated.verdict}` });
      if (!validated.reason || validated.reason.length < 5) problems.push({ kind: 'reason', stage: 'validate', message: `empty reason for ${validated.verdict}` });
      // The validator's catch-all: a parser bug, not a verdict on the file.
      if (validated.reason?.includes('internal parser error')) problems.push({ kind: 'crash', stage: 'validate', message: validated.reason });
      if (validated.reason?.toUpperCase().includes(token)) problems.push({ kind: 'phi', stage: 'validate', message: `reason shows patient data: ${validated.verdict}` });
    }
    if (validated.ok && ((validated.readBytes ?? 0) > 16 * 1024 * 1024 || (validated.largestRead ?? 0) > 1024 * 1024)) {
      problems.push({ kind: 'budget', stage: 'validate', message: `read ${validated.readBytes} bytes, largest read ${validated.largestRead}` });
    }
  }
  const sent = result.http;
  if (sent) {
    if (sent.statuses?.some((status) => status >= 500)) problems.push({ kind: 'crash', stage: 'http', message: `the relay answered ${sent.statuses.join(', ')}: ${sent.error}` });
    else if (!sent.ok) problems.push({ kind: 'http', stage: 'http', message: sent.error ?? 'failed' });
    else if (validated?.ok) {
      const direct = validated.verdict === 'accepted' ? 'verified' : validated.verdict;
      if (sent.verdict !== direct) problems.push({ kind: 'http', stage: 'http', message: `the relay said ${sent.verdict} over HTTP, the validator ${direct}` });
    }
  }
  return problems;
}

it(`${ONLY ? `replays iteration(s) ${ONLY.join(', ')}` : `${ITERATIONS} mutants (or ${TIME_BOX_MS / 1000} s)`}: 0 crashes, 0 hangs, resident set under ${RSS_LIMIT_BYTES / 1024 / 1024} MB, under ${GROWTH_LIMIT_BYTES / 1024 / 1024} MB per input, no leak`, async () => {
  // The seeds themselves must pass, or the fuzzer would only ever test the first bytes of a file.
  for (const seed of corpus.seeds) {
    const { outcome } = await runJob({ ...(await jobFor({ iteration: -2, target: 'dicom', mutator: 'none', seed: seed.name, bytes: seed.file, detail: '', ids: seed.ids! })), http: true });
    if (outcome.kind !== 'done') throw new Error(`seed ${seed.name}: ${outcome.kind}`);
    expect(outcome.result.import.skips, `seed ${seed.name} imports`).toEqual([]);
    expect(outcome.result.validate?.verdict, `seed ${seed.name} validates`).toBe('accepted');
    expect(outcome.result.http?.verdict, `seed ${seed.name} is verified over HTTP`).toBe('verified');
  }
  for (const zip of corpus.zips) {
    const { outcome } = await runJob(await jobFor({ iteration: -3, target: 'zip', mutator: 'none', seed: zip.name, bytes: zip.bytes, detail: '' }));
    if (outcome.kind !== 'done') throw new Error(`seed ${zip.name}: ${outcome.kind}`);
    expect(outcome.result.import.skips, `seed ${zip.name} imports`).toEqual([]);
  }
  const media = await runJob(await jobFor({ iteration: -4, target: 'dicomdir', mutator: 'none', seed: 'dicomdir', bytes: corpus.dicomdir.file, detail: '' }));
  if (media.outcome.kind !== 'done') throw new Error(`the DICOMDIR seed: ${media.outcome.kind}`);
  expect(media.outcome.result.import.skips).toEqual([]);
  expect(media.outcome.result.import.counts?.found).toBe(3);
  const startRss = await harness.highWaterMark();

  const failures: Failure[] = [];
  const stats = new Map<string, MutatorStats>();
  const totals = {
    iterations: 0, crashes: 0, hangs: 0, memory: 0, otherFailures: 0, slowRetried: 0, httpUploads: 0, slowestMs: 0,
    peakRssBytes: 0, peakRssIteration: -1, peakRssMutator: '', peakGrowthBytes: 0, peakGrowthIteration: -1, peakGrowthMutator: '',
  };
  /** The child's resident set when the next input starts (0: a fresh child, not known yet). */
  let rssBefore = 0;
  const maxOpenFiles = { first: 0, last: 0, max: 0 };
  /** The child's resident set after each input (after a collection when it passed 200 MB): growth here is a leak. */
  const rssAfterInput = { first: 0, last: 0, max: 0 };
  const heapAfterInput = { first: 0, last: 0, max: 0 };
  const externalAfterInput = { first: 0, last: 0, max: 0 };
  const heapTotalAfterInput = { first: 0, last: 0, max: 0 };
  const started = performance.now();
  const iterations = ONLY ?? Array.from({ length: ITERATIONS }, (_, i) => i);
  let lastReport = started;
  for (const iteration of iterations) {
    if (!ONLY && performance.now() - started > TIME_BOX_MS) break;
    const mutant = makeMutant(corpus, SEED, iteration);
    const job = await jobFor(mutant);
    const { outcome, retried, restarted } = await runJob(job);
    totals.iterations++;
    const name = mutant.mutator;
    const s = stats.get(name) ?? { runs: 0, failures: 0, importer: {}, validator: {}, http: 0, slowestMs: 0, peakRssBytes: 0, peakGrowthBytes: 0 };
    stats.set(name, s);
    s.runs++;
    s.peakRssBytes = Math.max(s.peakRssBytes, outcome.peakRss);
    if (outcome.peakRss > totals.peakRssBytes) Object.assign(totals, { peakRssBytes: outcome.peakRss, peakRssIteration: iteration, peakRssMutator: name });
    const problems: { kind: string; stage: string; message: string }[] = [];
    if (outcome.kind === 'done') {
      const result = outcome.result;
      if (retried) totals.slowRetried++;
      const slowest = Math.max(result.import.ms, result.validate?.ms ?? 0, result.http?.ms ?? 0);
      s.slowestMs = Math.max(s.slowestMs, slowest);
      totals.slowestMs = Math.max(totals.slowestMs, slowest);
      problems.push(...check(mutant, job, result));
      if (outcome.peakRss > RSS_LIMIT_BYTES) problems.push({ kind: 'memory', stage: 'any', message: `resident set peaked at ${Math.round(outcome.peakRss / 1024 / 1024)} MB` });
      if (rssBefore > 0) {
        const growth = Math.max(0, outcome.peakRss - rssBefore);
        s.peakGrowthBytes = Math.max(s.peakGrowthBytes, growth);
        if (growth > totals.peakGrowthBytes) Object.assign(totals, { peakGrowthBytes: growth, peakGrowthIteration: iteration, peakGrowthMutator: name });
        if (growth > GROWTH_LIMIT_BYTES) problems.push({ kind: 'memory', stage: 'any', message: `one input added ${Math.round(growth / 1024 / 1024)} MB to the resident set` });
      }
      rssBefore = result.rss;
      const counts = result.import.counts;
      const importer = !counts ? 'threw' : counts.skipped === 0 ? 'all imported' : counts.skipped === counts.found ? `skipped: ${[...new Set(result.import.skips!.map((k) => k.code))].sort().join('+')}` : 'some imported, some skipped';
      s.importer[importer] = (s.importer[importer] ?? 0) + 1;
      if (result.validate) s.validator[result.validate.verdict ?? 'threw'] = (s.validator[result.validate.verdict ?? 'threw'] ?? 0) + 1;
      if (result.http) {
        s.http++;
        totals.httpUploads++;
      }
      for (const [trend, value] of [[heapAfterInput, result.heapUsed], [heapTotalAfterInput, result.heapTotal], [externalAfterInput, result.external]] as const) {
        trend.first ||= value;
        trend.last = value;
        trend.max = Math.max(trend.max, value);
      }
      rssAfterInput.first ||= result.rss;
      rssAfterInput.last = result.rss;
      rssAfterInput.max = Math.max(rssAfterInput.max, result.rss);
      maxOpenFiles.first ||= result.openFiles;
      maxOpenFiles.last = result.openFiles;
      maxOpenFiles.max = Math.max(maxOpenFiles.max, result.openFiles);
    } else if (outcome.kind === 'hang') {
      problems.push({ kind: 'hang', stage: outcome.stage, message: `no answer within ${STAGE_LIMIT_MS} ms, twice` });
    } else if (outcome.kind === 'memory') {
      problems.push({ kind: 'memory', stage: outcome.stage, message: `resident set passed ${Math.round(outcome.peakRss / 1024 / 1024)} MB; the process was stopped` });
    } else {
      problems.push({ kind: 'crash', stage: outcome.stage, message: `the target process died (${outcome.exit}): ${outcome.fatal ?? 'no message'}` });
    }
    // A replaced child starts from a new resident set.
    if (restarted) rssBefore = 0;
    if (problems.length > 0) {
      s.failures++;
      const kinds = new Set(problems.map((p) => p.kind));
      if (kinds.has('crash')) totals.crashes++;
      else if (kinds.has('hang')) totals.hangs++;
      else if (kinds.has('memory')) totals.memory++;
      else totals.otherFailures++;
      await mkdir(failDir, { recursive: true });
      const saved = join(failDir, `i${iteration}-${name}.${mutant.target === 'zip' ? 'zip' : 'dcm'}`);
      await writeFile(saved, mutant.bytes);
      for (const problem of problems) {
        failures.push({ iteration, mutator: name, seed: mutant.seed, ...problem, detail: mutant.detail, saved });
        if (failures.length <= 40) console.log(`malformed-input: FAIL #${iteration} ${name} on ${mutant.seed} [${problem.kind} in ${problem.stage}] ${problem.message.split('\n')[0]} — ${mutant.detail}`);
      }
    }
    if (mutant.target !== 'dicomdir') await rm(job.path, { force: true });
    if (performance.now() - lastReport > 30_000) {
      lastReport = performance.now();
      console.log(`malformed-input: ${totals.iterations} mutants in ${Math.round((lastReport - started) / 1000)} s, ${totals.crashes} crashes, ${totals.hangs} hangs, ${totals.memory} over memory, peak RSS ${Math.round(totals.peakRssBytes / 1024 / 1024)} MB`);
    }
  }
  if (heapAfterInput.last - heapAfterInput.first > HEAP_GROWTH_LIMIT_BYTES) {
    failures.push({ iteration: -1, mutator: 'all', seed: 'all', kind: 'leak', stage: 'any', detail: '', message: `the heap in use grew from ${Math.round(heapAfterInput.first / 1024 / 1024)} MB to ${Math.round(heapAfterInput.last / 1024 / 1024)} MB over the run` });
  }
  const seconds = (performance.now() - started) / 1000;
  const perMutator = Object.fromEntries([...stats.entries()].sort(([a], [b]) => a.localeCompare(b)));
  const summary = {
    seed: SEED,
    reproduce: `RELAYPACS_FUZZ_SEED=${SEED}${SHORT ? ' RELAYPACS_FAULTS=short' : ''} npm run test:faults -- faults/malformed-input.test.ts`,
    iterations: totals.iterations,
    seconds: Math.round(seconds),
    mutantsPerSecond: Number((totals.iterations / seconds).toFixed(1)),
    crashes: totals.crashes,
    hangs: totals.hangs,
    overMemory: totals.memory,
    otherFailures: totals.otherFailures,
    hangsThatPassedOnRetry: totals.slowRetried,
    httpUploads: totals.httpUploads,
    stageLimitMs: STAGE_LIMIT_MS,
    slowestStageMs: Math.round(totals.slowestMs),
    rssLimitBytes: RSS_LIMIT_BYTES,
    peakRssBytes: totals.peakRssBytes,
    peakRssMutator: totals.peakRssMutator,
    peakRssIteration: totals.peakRssIteration,
    growthLimitBytes: GROWTH_LIMIT_BYTES,
    heapGrowthLimitBytes: HEAP_GROWTH_LIMIT_BYTES,
    peakGrowthBytes: totals.peakGrowthBytes,
    peakGrowthMutator: totals.peakGrowthMutator,
    peakGrowthIteration: totals.peakGrowthIteration,
    rssAfterStartBytes: startRss,
    rssAfterInputBytes: rssAfterInput,
    heapUsedAfterInputBytes: heapAfterInput,
    externalAfterInputBytes: externalAfterInput,
    heapTotalAfterInputBytes: heapTotalAfterInput,
    openFiles: maxOpenFiles,
    internalErrorsInImportReasons: Object.fromEntries(internalReasons),
    harnessStarts: harnessLives,
    seeds: corpus.seeds.map((s) => s.name).concat(corpus.zips.map((z) => z.name), ['dicomdir']),
    schedule: SCHEDULE.length,
    perMutator: Object.fromEntries(Object.entries(perMutator).map(([k, v]) => [k, { ...v, slowestMs: Math.round(v.slowestMs) }])),
    failures: failures.slice(0, 100),
  };
  if (!ONLY) await recordResult('malformed-input', summary);
  console.log(`malformed-input: ${totals.iterations} mutants in ${Math.round(seconds)} s (seed ${SEED}): ${totals.crashes} crashes, ${totals.hangs} hangs, ${totals.memory} over memory, ${totals.otherFailures} other failures; peak RSS ${Math.round(totals.peakRssBytes / 1024 / 1024)} MB (${totals.peakRssMutator} #${totals.peakRssIteration}); ${totals.httpUploads} uploads over HTTP`);
  if (failures.length > 0) console.log(`malformed-input: failing mutants kept in ${failDir}`);
  expect(failures.map((f) => `#${f.iteration} ${f.mutator} [${f.kind} in ${f.stage}] ${f.message.split('\n')[0]}`)).toEqual([]);
});
