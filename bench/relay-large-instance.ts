// Benchmark: one large multi-frame instance (default 2 GiB) streamed through the real relay binary
// in chunks, completed and verified. Reports the relay's peak RSS (VmHWM) and throughput.
//   npm run bench:relay-large -- [--gib 2] [--chunk-mib 8] [--parallel 4]
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateStudy, relayUserCommand, spawnRelay } from '@relaypacs/testkit';

const { values } = parseArgs({ options: { gib: { type: 'string', default: '2' }, 'chunk-mib': { type: 'string', default: '8' }, parallel: { type: 'string', default: '4' }, keep: { type: 'boolean' } } });
const targetBytes = Number(values.gib) * 1024 ** 3;
const chunkBytes = Number(values['chunk-mib']) * 1024 ** 2;
const parallel = Number(values.parallel);

function peakRssBytes(pid: number): Promise<number> {
  return readFile(`/proc/${pid}/status`, 'utf8').then((text) => Number(/VmHWM:\s+(\d+) kB/.exec(text)?.[1] ?? 0) * 1024);
}

// Measure the relay as it runs in production: compiled, not through tsx.
execFileSync('npm', ['run', '--silent', 'build', '-w', '@relaypacs/relay'], { cwd: join(import.meta.dirname, '..'), stdio: 'inherit' });

const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-bench-large-'));
try {
  const frameBytes = 1024 * 1024 * 2; // 1024 × 1024, 16-bit
  const frames = Math.ceil(targetBytes / frameBytes);
  console.error(`generating one ${frames}-frame instance (~${(frames * frameBytes / 1024 ** 3).toFixed(2)} GiB)...`);
  const study = await generateStudy(join(workDir, 'study'), { instances: 1, rows: 1024, columns: 1024, frames });
  const instance = study.instances[0]!;
  const dataDir = join(workDir, 'relay-data');
  await mkdir(dataDir, { recursive: true });
  const added = await relayUserCommand(dataDir, ['add', 'bench', '--role', 'device', '--password-stdin'], 'benchmark password\n');
  if (added.code !== 0) throw new Error(added.stderr);
  const relay = await spawnRelay(dataDir, join(workDir, 'relay.log'), { RELAYPACS_LOG_LEVEL: 'warn', RELAYPACS_RELAY_BUILD: 'dist', ...(process.env.RELAY_NODE_OPTIONS ? { NODE_OPTIONS: process.env.RELAY_NODE_OPTIONS } : {}) });
  const pid = relay.process.pid!;
  const login = await fetch(`${relay.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'bench', password: 'benchmark password' }) });
  const { accessToken } = (await login.json()) as { accessToken: string };
  const init = await fetch(`${relay.url}/upload/init`, {
    method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'ROUTINE' }, instances: [{ sopInstanceUid: instance.sopInstanceUid, sopClassUid: instance.sopClassUid, size: instance.size, sha256: instance.sha256 }] }),
  });
  const { uploadId, uploadToken } = (await init.json()) as { uploadId: string; uploadToken: string };
  const idleRss = await peakRssBytes(pid);
  const rssSamples: number[] = [];
  const sampler = setInterval(() => {
    void readFile(`/proc/${pid}/status`, 'utf8').then((t) => rssSamples.push(Number(/VmRSS:\s+(\d+) kB/.exec(t)?.[1] ?? 0) / 1024)).catch(() => undefined);
  }, 250);
  const file = await open(instance.path, 'r');
  const offsets: number[] = [];
  for (let offset = 0; offset < instance.size; offset += chunkBytes) offsets.push(offset);
  const started = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < offsets.length) {
      const offset = offsets[next++]!;
      const length = Math.min(chunkBytes, instance.size - offset);
      const buffer = Buffer.alloc(length);
      await file.read(buffer, 0, length, offset);
      const digest = createHash('sha256').update(buffer).digest('base64');
      const response = await fetch(`${relay.url}/upload/${uploadId}/chunk?instance=0&offset=${offset}`, {
        method: 'PUT', headers: { authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream', 'content-digest': `sha-256=:${digest}:` }, body: buffer,
      });
      if (response.status !== 200) throw new Error(`chunk at ${offset}: HTTP ${response.status} ${await response.text()}`);
    }
  }));
  const transferSeconds = (performance.now() - started) / 1000;
  const peakAfterTransfer = await peakRssBytes(pid);
  await file.close();
  const completeStarted = performance.now();
  const complete = await fetch(`${relay.url}/upload/${uploadId}/complete`, { method: 'POST', headers: { authorization: `Bearer ${uploadToken}` } });
  const status = (await complete.json()) as { state: string; instances: { state: string }[] };
  const completeSeconds = (performance.now() - completeStarted) / 1000;
  const peak = await peakRssBytes(pid);
  clearInterval(sampler);
  console.error(`RSS MiB every 250 ms: ${rssSamples.map((v) => v.toFixed(0)).join(' ')}`);
  await relay.process.stop();
  const result = {
    date: new Date().toISOString(),
    instanceBytes: instance.size,
    chunkBytes,
    parallel,
    transferSeconds: Number(transferSeconds.toFixed(2)),
    throughputMiBps: Number((instance.size / 1024 ** 2 / transferSeconds).toFixed(1)),
    completeSeconds: Number(completeSeconds.toFixed(2)),
    finalState: `${status.state}/${status.instances[0]?.state}`,
    relayRssAfterStartMiB: Number((idleRss / 1024 ** 2).toFixed(1)),
    relayPeakRssAfterTransferMiB: Number((peakAfterTransfer / 1024 ** 2).toFixed(1)),
    relayPeakRssMiB: Number((peak / 1024 ** 2).toFixed(1)),
  };
  console.log(JSON.stringify(result, null, 2));
  const resultsDir = join(import.meta.dirname, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'relay-large-instance.json'), `${JSON.stringify(result, null, 2)}\n`);
  if (status.state !== 'accepted' || status.instances[0]?.state !== 'verified') process.exitCode = 1;
} finally {
  if (!values.keep) await rm(workDir, { recursive: true, force: true });
}
