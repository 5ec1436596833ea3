// One verdict on every file: the desktop's header reader (what the import review and the queue
// go by) and the relay's Part 10 validator (what decides whether the PACS gets the instance) both
// read with @relaypacs/dicom, and this property test holds them to it. Inputs: the malformed
// corpus's seeds, files other toolkits wrote (DCMTK, GDCM: headerless data sets, compressed
// syntaxes, objects without Pixel Data, cut files, ACR-NEMA), and a seeded mutation-fuzz run over
// the seeds. Each file is judged as the agent would send it: the desktop reads it; a bare data set
// it accepts is wrapped in the meta header the agent adds; the relay then validates what would be
// sent against the manifest the agent would write (the UIDs the desktop read). Property:
//   - the desktop accepts a file exactly when the relay does;
//   - when both refuse, they give the same reason, under codes that correspond
//     (TRUNCATED ⇔ FILE_TRUNCATED, every other refusal ⇔ FILE_NOT_DICOM);
//   - when both accept, they name the same transfer syntax.
// A bare data set the desktop refuses is never sent, so the relay's view of it is not compared.
// RELAYPACS_FUZZ_SEED=S reproduces a run; RELAYPACS_VERDICT_ITERATIONS changes the mutant count.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ANY_SOP_CLASS } from '@relaypacs/dicom';
import { writeForeignCorpus } from '@relaypacs/testkit';
import { readInstanceHeader, type HeaderResult } from '../desktop/src/core/dicom/header-reader.js';
import { wrapWithFileMeta } from '../desktop/src/core/import/file-meta-wrapping.js';
import { validatePart10, type ValidationResult } from '../server/src/dicom/part10-validator.js';
import { fileReader } from '../server/test/dicom/header-readers.js';
import { canaryPatient, recordResult, SHORT } from './canary.js';
import type { InstanceIds } from './dicom-mutators.js';
import { fuzzSeed } from './fuzz-random.js';
import { buildCorpus, makeMutant, type Corpus } from './malformed-corpus.js';

const SEED = fuzzSeed();
const ITERATIONS = Number(process.env.RELAYPACS_VERDICT_ITERATIONS ?? (SHORT ? 600 : 6000));
/** Every loop is bounded in time too: the run stops early, and says so, past this. */
const TIME_BOX_MS = (SHORT ? 90 : 900) * 1000;
const ANY: ReadonlySet<string> = new Set([ANY_SOP_CLASS]);

let workDir: string;
let corpus: Corpus;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-verdicts-'));
  corpus = await buildCorpus(join(workDir, 'corpus'), canaryPatient(), { bombSizes: [24 * 1024 * 1024] });
}, 300_000);

afterAll(async () => {
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

type Verdict = { agree: true; kind: 'both-accept' | 'both-refuse' | 'bare-refused' } | { agree: false; why: string };

/** How the desktop's refusal codes correspond to the relay's (desktop/src/core/dicom/header-reader.ts). */
const desktopCodeFor = (relayCode: string) => (relayCode === 'TRUNCATED' ? 'FILE_TRUNCATED' : 'FILE_NOT_DICOM');

async function judge(path: string, fallback: InstanceIds | undefined): Promise<Verdict> {
  const desktop: HeaderResult = await readInstanceHeader(path);
  let sent = path;
  if (desktop.ok && desktop.header.withoutFileMeta) sent = (await wrapWithFileMeta(path, desktop.header, join(workDir, 'wrapped'), 'FUZZ')).path;
  const manifest = desktop.ok
    ? { studyInstanceUid: desktop.header.study.instanceUid, sopInstanceUid: desktop.header.sopInstanceUid, sopClassUid: desktop.header.sopClassUid }
    : fallback ?? { studyInstanceUid: '2.25.1', sopInstanceUid: '2.25.2', sopClassUid: '2.25.3' };
  const reader = await fileReader(sent);
  let relay: ValidationResult;
  try {
    relay = await validatePart10(reader.readHeader, reader.size, { ...manifest, allowedSopClasses: ANY });
  } finally {
    await reader.close();
  }
  if (desktop.ok && relay.ok) {
    return relay.transferSyntaxUid === desktop.header.transferSyntaxUid
      ? { agree: true, kind: 'both-accept' }
      : { agree: false, why: `transfer syntax: desktop ${desktop.header.transferSyntaxUid}, relay ${relay.transferSyntaxUid}` };
  }
  if (desktop.ok) return { agree: false, why: `desktop accepts, relay refuses ${relay.ok ? '' : `${relay.code}: ${relay.reason}`}` };
  if (desktop.code === 'FILE_UNREADABLE') return { agree: false, why: `desktop could not read the file: ${desktop.reason}` };
  if (relay.ok) return { agree: false, why: `desktop refuses ${desktop.code}: ${desktop.reason}; relay accepts` };
  if (relay.code === 'NOT_PART10') return { agree: true, kind: 'bare-refused' };
  if (desktop.code !== desktopCodeFor(relay.code) || desktop.reason !== relay.reason) {
    return { agree: false, why: `desktop ${desktop.code}: ${desktop.reason}; relay ${relay.code}: ${relay.reason}` };
  }
  return { agree: true, kind: 'both-refuse' };
}

it(`desktop and relay give one verdict on the corpus, other toolkits' files and ${ITERATIONS} mutants`, async () => {
  const inputs: { name: string; path: string; ids?: InstanceIds }[] = [];
  for (const seed of corpus.seeds) {
    const path = join(workDir, `seed-${seed.name}.dcm`);
    await writeFile(path, seed.file);
    inputs.push({ name: `seed ${seed.name}`, path, ...(seed.ids ? { ids: seed.ids } : {}) });
  }
  for (const foreign of await writeForeignCorpus(join(workDir, 'foreign'), { seed: SEED })) inputs.push({ name: `foreign ${foreign.name}`, path: foreign.file });

  const counts = { 'both-accept': 0, 'both-refuse': 0, 'bare-refused': 0 };
  const disagreements: string[] = [];
  const record = (name: string, verdict: Verdict) => {
    if (verdict.agree) counts[verdict.kind]++;
    else disagreements.push(`${name}: ${verdict.why}`);
  };
  for (const input of inputs) record(input.name, await judge(input.path, input.ids));
  const seedsAccepted = counts['both-accept'];

  const started = Date.now();
  let mutants = 0;
  const mutantPath = join(workDir, 'mutant.dcm');
  for (let iteration = 0; iteration < ITERATIONS * 3 && mutants < ITERATIONS && Date.now() - started < TIME_BOX_MS; iteration++) {
    const mutant = makeMutant(corpus, SEED, iteration);
    if (mutant.target !== 'dicom') continue;
    mutants++;
    await writeFile(mutantPath, mutant.bytes);
    record(`mutant #${iteration} ${mutant.mutator} on ${mutant.seed} (${mutant.detail})`, await judge(mutantPath, mutant.ids));
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(`verdict-agreement: seed ${SEED}, ${inputs.length} corpus files and ${mutants} mutants in ${seconds.toFixed(1)} s: ${JSON.stringify(counts)}, ${disagreements.length} disagreements`);
  for (const line of disagreements.slice(0, 30)) console.log(`verdict-agreement: DISAGREE ${line}`);
  await recordResult('verdict-agreement', { seed: SEED, corpusFiles: inputs.length, mutants, seconds, ...counts, disagreements: disagreements.slice(0, 100) });

  // The property must have been exercised both ways, not vacuously.
  expect(seedsAccepted).toBeGreaterThanOrEqual(corpus.seeds.length);
  expect(counts['both-refuse']).toBeGreaterThan(0);
  expect(mutants).toBeGreaterThanOrEqual(Math.min(ITERATIONS, SHORT ? 200 : 2000));
  expect(disagreements).toEqual([]);
});
