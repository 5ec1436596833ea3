// The malformed-input fuzzer's target process (started by fuzz-harness-client.ts, one input at a
// time over IPC). It holds what a clinic and a relay would: the desktop import writing a real
// SQLite catalog file, the relay's Part 10 validator reading the file in ranges as relay storage
// does, and a real relay (Fastify on loopback) taking uploads through init / chunk / complete.
// Anything thrown out of those APIs is reported as such; an exception nobody catches is reported
// and ends the process, which the fuzzer counts as a crash.
//   node --import tsx faults/malformed-input-harness.ts WORK_DIR
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { openCatalogDatabase } from '../desktop/src/core/catalog/catalog-database.js';
import { ImportRunsRepository } from '../desktop/src/core/catalog/import-runs-repository.js';
import { ImportService } from '../desktop/src/core/import/import-service.js';
import { sourceForPath } from '../desktop/src/core/import/source-for-path.js';
import { DEFAULT_ALLOWED_SOP_CLASSES } from '@relaypacs/dicom';
import { validatePart10 } from '../server/src/dicom/part10-validator.js';
import type { UploadStatus } from '../server/src/protocol/upload-protocol.js';
import { fileReader } from '../server/test/dicom/header-readers.js';
import { startTestRelay } from '../server/test/support/test-relay.js';
import { TestUploadClient } from '../server/test/support/upload-client.js';
import type { HarnessJob, HarnessMessage, HarnessResult, HttpOutcome, ImportOutcome, StageName, ValidateOutcome } from './fuzz-harness-client.js';

const CHUNK_BYTES = 64 * 1024;
const ALLOWED = new Set(DEFAULT_ALLOWED_SOP_CLASSES);

const send = (message: HarnessMessage): void => {
  process.send?.(message);
};
const describe = (error: unknown): string => (error instanceof Error ? (error.stack ?? `${error.name}: ${error.message}`) : `non-Error thrown: ${String(error)}`).slice(0, 2000);

// Nothing may escape unnoticed: an uncaught exception or rejection is a crash of the program that runs this code.
process.on('uncaughtException', (error) => {
  send({ type: 'fatal', error: `uncaught exception: ${describe(error)}` });
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  send({ type: 'fatal', error: `unhandled rejection: ${describe(error)}` });
  process.exit(70);
});

const workDir = process.argv[2];
if (!workDir) throw new Error('usage: malformed-input-harness.ts WORK_DIR');
const tempDir = join(workDir, 'import-temp');
await mkdir(workDir, { recursive: true });
const db = openCatalogDatabase(join(workDir, 'catalog.sqlite'));
const imports = new ImportService({ db });
const runs = new ImportRunsRepository(db);
const relay = await startTestRelay({
  upload: { minChunkBytes: 1024, preferredChunkBytes: CHUNK_BYTES, maxChunkBytes: 1024 * 1024, maxActiveUploadsPerUser: 100_000, minFreeDiskBytes: 0 },
});
const client = new TestUploadClient(relay.url);
const token = await relay.tokenFor('radiographer');

process.on('message', (message: { type: 'job'; job: HarnessJob } | { type: 'stop' }) => {
  if (message.type === 'stop') {
    void shutdown();
    return;
  }
  void runJob(message.job).then((result) => send({ type: 'done', result }));
});
send({ type: 'ready', pid: process.pid });

async function shutdown(): Promise<void> {
  await relay.close();
  db.close();
  process.exit(0);
}

async function runJob(job: HarnessJob): Promise<HarnessResult> {
  stage('import');
  const imported = await importInput(job);
  let validated: ValidateOutcome | undefined;
  let sent: HttpOutcome | undefined;
  if (job.ids) {
    stage('validate');
    validated = await validateInput(job);
    if (job.http) {
      stage('http');
      sent = await uploadInput(job);
    }
  }
  // Garbage from a large input would otherwise be counted against the next one (the fuzzer resets
  // the peak before each input); what is still reachable stays and is still counted.
  if (process.memoryUsage.rss() > 200 * 1024 * 1024) globalThis.gc?.();
  return {
    iteration: job.iteration, import: imported,
    ...(validated ? { validate: validated } : {}), ...(sent ? { http: sent } : {}),
    rss: process.memoryUsage.rss(), ...heapOf(process.memoryUsage()), openFiles: (await readdir('/proc/self/fd').catch(() => [])).length,
  };
}

function heapOf({ heapUsed, heapTotal, external }: NodeJS.MemoryUsage): { heapUsed: number; heapTotal: number; external: number } {
  return { heapUsed, heapTotal, external };
}

function stage(name: StageName): void {
  send({ type: 'stage', stage: name });
}

async function importInput(job: HarnessJob): Promise<ImportOutcome> {
  const started = performance.now();
  try {
    const result = await imports.run(`fuzz ${job.iteration}`, sourceForPath(job.importPath, { tempDir }));
    return { ok: true, ms: performance.now() - started, counts: result.counts, skips: runs.skips(result.runId) };
  } catch (error) {
    return { ok: false, ms: performance.now() - started, error: describe(error) };
  } finally {
    // The extracted entries of a ZIP belong to the catalog in the app; here they are only in the way.
    await rm(tempDir, { recursive: true, force: true });
  }
}

async function validateInput(job: HarnessJob): Promise<ValidateOutcome> {
  const started = performance.now();
  const ids = job.ids!;
  let reader: Awaited<ReturnType<typeof fileReader>> | undefined;
  try {
    // Reads only the ranges asked for, and throws on a range outside the file: as relay storage does.
    reader = await fileReader(job.path);
    const result = await validatePart10(reader.readHeader, reader.size, { ...ids, allowedSopClasses: ALLOWED });
    return {
      ok: true, ms: performance.now() - started, verdict: result.ok ? 'accepted' : result.code, ...(result.ok ? {} : { reason: result.reason }),
      readBytes: reader.log.bytes, largestRead: reader.log.largest,
    };
  } catch (error) {
    return { ok: false, ms: performance.now() - started, error: describe(error) };
  } finally {
    await reader?.close();
  }
}

async function uploadInput(job: HarnessJob): Promise<HttpOutcome> {
  const started = performance.now();
  const ids = job.ids!;
  const statuses: number[] = [];
  const failed = (error: string): HttpOutcome => ({ ok: false, ms: performance.now() - started, statuses, error });
  try {
    const bytes = await readFile(job.path);
    const init = await client.init(token, {
      study: { studyInstanceUid: ids.studyInstanceUid, serviceLevel: 'ROUTINE' },
      instances: [{ sopInstanceUid: ids.sopInstanceUid, sopClassUid: ids.sopClassUid, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }],
    });
    statuses.push(init.status);
    // 201 for a new upload, 200 when an identical manifest resumes an earlier one.
    if (init.status !== 201 && init.status !== 200) return failed(`init answered ${init.status}: ${JSON.stringify(init.body).slice(0, 300)}`);
    const { uploadId, uploadToken } = init.body;
    // The same bytes were sent before (a mutation can give back its seed): that upload answers again.
    const alreadyAccepted = init.body.resumed && init.body.status.state === 'accepted';
    for (let offset = 0; offset < bytes.length && !alreadyAccepted; offset += CHUNK_BYTES) {
      const chunk = await client.chunk(uploadId, uploadToken, 0, offset, bytes.subarray(offset, offset + CHUNK_BYTES));
      statuses.push(chunk.status);
      if (chunk.status !== 200) return failed(`chunk at ${offset} answered ${chunk.status}: ${JSON.stringify(chunk.body).slice(0, 300)}`);
    }
    const complete = await client.request('POST', `/upload/${uploadId}/complete`, uploadToken);
    statuses.push(complete.status);
    if (complete.status !== 200) return failed(`complete answered ${complete.status}: ${JSON.stringify(complete.body).slice(0, 300)}`);
    const instance = (complete.body as unknown as UploadStatus).instances[0];
    if (!instance) return failed('complete answered without the instance');
    return {
      ok: true, ms: performance.now() - started, statuses,
      verdict: instance.state === 'rejected' ? (instance.rejection?.code ?? 'rejected without a code') : instance.state,
      ...(instance.rejection ? { reason: instance.rejection.reason } : {}),
    };
  } catch (error) {
    return failed(describe(error));
  }
}
