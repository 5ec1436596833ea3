// The relay restarted while `relaypacs upload --wait` is sending a study: killed outright (SIGKILL)
// or stopped gracefully (SIGTERM), then started again on the same port and data folder. The agent,
// still running, retries with backoff, resumes the same upload from what the relay kept, and ends
// with exit 0 once Orthanc confirms every instance, each stored once. Real relay binary, real
// Orthanc, the agent as a child process signed in through a real gnome-keyring.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentWorld, sleep } from './agent-harness.js';

const KiB = 1024;
/** Fixed chunks (the relay's min = preferred = max) so the relay's record of chunks maps to byte ranges. */
const CHUNK = 256 * KiB;

let world: AgentWorld;

beforeAll(async () => {
  world = await AgentWorld.start('relaypacs-relay-restart-', { upload: { minChunkBytes: CHUNK, preferredChunkBytes: CHUNK, maxChunkBytes: CHUNK } });
  const login = await world.login();
  expect(login.code, login.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await world?.stop();
});

type Chunk = `${number}/${number}`;

/** Chunk requests (instance/offset) of one upload that reached the relay in one of its lives, from its request log. */
async function chunkRequests(life: number, uploadId: string): Promise<Chunk[]> {
  const log = await readFile(world.relayLogPath(life), 'utf8');
  const requests: Chunk[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; req?: { method?: string; url?: string } };
    if (entry.msg !== 'incoming request' || entry.req?.method !== 'PUT' || !entry.req.url?.startsWith(`/upload/${uploadId}/chunk?`)) continue;
    const query = new URL(entry.req.url, 'http://relay').searchParams;
    requests.push(`${Number(query.get('instance'))}/${Number(query.get('offset'))}`);
  }
  return requests;
}

describe.each([
  { how: 'killed (SIGKILL)', signal: 'SIGKILL' as const },
  { how: 'stopped gracefully (SIGTERM)', signal: 'SIGTERM' as const },
])('the relay $how mid-upload and started again', ({ signal }) => {
  it('the running agent resumes the same upload and exits 0 with every instance in Orthanc once', async () => {
    // 40 instances of a little over 512 KiB (pixels plus header): 20 MiB in 120 chunks.
    const study = await generateStudy(join(world.workDir, `study-${signal}`), { instances: 40, series: 2, rows: 512, columns: 512 });
    const totalChunks = study.instances.reduce((sum, i) => sum + Math.ceil(i.size / CHUNK), 0);
    const started = performance.now();
    const upload = world.spawnAgent(['upload', join(world.workDir, `study-${signal}`), '--wait', '--json']);

    // Mid-upload by the relay's own record: a quarter of the study's chunks acknowledged.
    const chunksOfStudy = `SELECT COUNT(*) AS n FROM upload_chunks c JOIN uploads u ON u.id = c.upload_id WHERE u.study_instance_uid = ?`;
    const acknowledged = () => world.withRelayDb((db) => (db.prepare(chunksOfStudy).get(study.studyInstanceUid) as { n: number }).n);
    const deadline = Date.now() + 30_000;
    while (acknowledged() < totalChunks / 4 && Date.now() < deadline && upload.running) await sleep(5);
    const firstLife = world.relayLife;
    const stopping = performance.now();
    if (signal === 'SIGKILL') {
      process.kill(world.relay.process.pid!, 'SIGKILL');
      await world.relay.process.exited;
    } else {
      expect(await world.relay.process.stop()).toMatchObject({ code: 0, forced: false });
    }
    const killedAt = performance.now();
    const uploadId = world.withRelayDb((db) => (db.prepare('SELECT id FROM uploads WHERE study_instance_uid = ?').get(study.studyInstanceUid) as { id: string }).id);
    const keptAtKill = new Set(world.withRelayDb((db) => db.prepare('SELECT idx, offset FROM upload_chunks WHERE upload_id = ?').all(uploadId) as { idx: number; offset: number }[])
      .map((c): Chunk => `${c.idx}/${c.offset}`));
    // Really mid-upload: some but not all of the study had arrived.
    expect(keptAtKill.size).toBeGreaterThanOrEqual(totalChunks / 4);
    expect(keptAtKill.size).toBeLessThan(totalChunks);

    // The relay stays down for a second (the agent's retries meet a refused connection), then
    // comes back on the same port with the same data folder.
    await sleep(1_000);
    expect({ running: upload.running, stdout: upload.stdout, stderr: upload.stderr }).toMatchObject({ running: true });
    await world.startRelay({ samePort: true });
    const restartedAt = performance.now();

    const exit = await upload.exited;
    const finishedAt = performance.now();
    expect(exit, upload.stderr).toEqual({ code: 0, signal: null });
    const result = JSON.parse(upload.stdout.trim().split('\n').at(-1)!) as { jobs: { state: string; studyInstanceUid: string; uploadId: string; instances: { state: string }[] }[] };
    expect(result.jobs).toHaveLength(1);
    expect(result.jobs[0]).toMatchObject({ state: 'confirmed', studyInstanceUid: study.studyInstanceUid, uploadId });
    expect(result.jobs[0]!.instances.filter((i) => i.state !== 'confirmed')).toEqual([]);

    // Every instance in Orthanc, each once.
    const held = await world.heldInOrthanc(study);
    expect(held.sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
    // One upload on the relay, resumed rather than started over, and each instance queued for Orthanc once.
    expect(world.withRelayDb((db) => (db.prepare('SELECT COUNT(*) AS n FROM uploads WHERE study_instance_uid = ?').get(study.studyInstanceUid) as { n: number }).n)).toBe(1);
    const items = world.relayDeliveryItems(study.studyInstanceUid);
    expect(items.size).toBe(study.instances.length);
    expect([...items].filter(([, n]) => n !== 1)).toEqual([]);

    // What the restart cost. After it the agent sent exactly the chunks the relay did not keep:
    // nothing it had acknowledged, and every one it had not.
    const before = await chunkRequests(firstLife, uploadId);
    const after = await chunkRequests(world.relayLife, uploadId);
    expect(after.filter((chunk) => keptAtKill.has(chunk))).toEqual([]);
    expect(new Set([...keptAtKill, ...after]).size).toBe(totalChunks);
    // Sent twice: chunks that were on their way when the relay went down (their bytes count in full, though part may not have left).
    const lengths = new Map(world.withRelayDb((db) => db.prepare('SELECT idx, offset, length FROM upload_chunks WHERE upload_id = ?').all(uploadId) as { idx: number; offset: number; length: number }[])
      .map((c) => [`${c.idx}/${c.offset}` as Chunk, c.length]));
    const sentAgain = [...new Set(after.filter((chunk) => before.includes(chunk)))];
    const bytesAgain = sentAgain.reduce((sum, chunk) => sum + (lengths.get(chunk) ?? 0), 0);
    console.info(`[relay ${signal}] ${(study.totalBytes / 2 ** 20).toFixed(1)} MiB in ${totalChunks} chunks; the relay kept ${keptAtKill.size}; `
      + `${sentAgain.length} chunks sent twice (${(bytesAgain / KiB).toFixed(0)} KiB, ${((100 * bytesAgain) / study.totalBytes).toFixed(1)}% of the study); `
      + `relay went down in ${Math.round(killedAt - stopping)} ms, was back after ${Math.round(restartedAt - killedAt)} ms; `
      + `agent exit 0 ${Math.round(finishedAt - restartedAt)} ms later; whole run ${Math.round(finishedAt - started)} ms`);
  }, 60_000);
});
