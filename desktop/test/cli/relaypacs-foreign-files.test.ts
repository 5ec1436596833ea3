// Issue 14, "done when": a folder of files that no one here wrote (DCMTK's and GDCM's bare data sets,
// objects without Pixel Data, compressed syntaxes, a truncated file, a file without SOP Instance UID,
// two files sharing one UID, an ACR-NEMA-like data set) goes through `relaypacs upload --wait` into a
// real Orthanc. Exactly the instances Orthanc stores when each file is posted to it directly arrive:
// Part 10 files byte-identical, bare data sets with an identical data set (sent with a file header
// added); the rest are listed with their reasons.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { dataSetOf, isPart10, OrthancServer, postForeignCorpus, writeForeignCorpus, type ForeignCase } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AgentWorld } from './agent-harness.js';

let world: AgentWorld;
let reference: OrthancServer;
let cases: ForeignCase[];
const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-foreign-');
  reference = await OrthancServer.start();
  cases = await writeForeignCorpus(join(world.workDir, 'foreign'));
  expect((await world.login()).code).toBe(0);
}, 120_000);

afterAll(async () => {
  await reference?.stop();
  await world?.stop();
});

it('delivers exactly what Orthanc itself stores, each file as it was (bare data sets with a header added)', async () => {
  // The reference: each file posted straight to an Orthanc of its own, in the corpus's order.
  const measured = await postForeignCorpus(reference, cases);
  const storedByOrthanc = new Set(measured.filter((m) => m.verdict === 'stored').map((m) => m.name));

  const sent = await world.agent(['upload', join(world.workDir, 'foreign'), '--wait']);
  const output = `${sent.stdout}\n${sent.stderr}`;

  const held = new Map<string, Buffer>();
  for (const instance of await world.orthanc.listInstances()) {
    const id = await world.orthanc.findInstance(instance.sopInstanceUid);
    if (id) held.set(instance.sopInstanceUid, await world.orthanc.instanceFile(id));
  }
  for (const foreign of cases) {
    const arrived = foreign.sopInstanceUid === undefined ? undefined : held.get(foreign.sopInstanceUid);
    if (foreign.kind === 'duplicate-uid') continue; // checked below, as a pair
    if (!storedByOrthanc.has(foreign.name)) {
      expect(arrived, `${foreign.name}: Orthanc refuses it, so must RelayPACS`).toBeUndefined();
      continue;
    }
    expect(arrived, `${foreign.name} (${foreign.kind}) should have arrived`).toBeDefined();
    const original = await readFile(foreign.file);
    if (foreign.part10) expect(sha(arrived!), `${foreign.name}: byte-identical`).toBe(sha(original));
    else {
      // Sent in the Part 10 file made for it: the data set is the file's, byte for byte.
      expect(isPart10(arrived!), `${foreign.name}: arrives as a Part 10 file`).toBe(true);
      expect(sha(dataSetOf(arrived!)), `${foreign.name}: identical data set`).toBe(sha(original));
    }
  }
  // Two different files with one SOP Instance UID: one of them arrives, whole, never a mix.
  const pair = cases.filter((c) => c.kind === 'duplicate-uid' || c.sameUidAs !== undefined || cases.some((o) => o.sameUidAs === c.name));
  const uid = pair[0]?.sopInstanceUid;
  if (uid) {
    const arrived = held.get(uid);
    expect(arrived).toBeDefined();
    const originals = await Promise.all(pair.map((c) => readFile(c.file)));
    expect(originals.map(sha)).toContain(sha(arrived!));
  }
  // What was not sent is said, with its reason, where the user sees it.
  expect(output).toMatch(/skipped/);
  expect(output).toMatch(/DICOM file header added/);
}, 300_000);
