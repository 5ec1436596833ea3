// A relay killed with SIGKILL in the middle of uploads loses nothing it acknowledged: after a
// restart the client resumes from the offsets the relay reports and the study completes
// byte-identical. Runs the real binary, its real SQLite file and its real temporary storage.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, relayUserCommand, spawnRelay, type ManagedProcess } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { UploadStatus } from '../../src/protocol/upload-protocol.js';
import { heldInstance } from '../support/held-instance.js';
import { manifestFor, sha256, TestUploadClient } from '../support/upload-client.js';


let workDir: string;
beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-crash-test-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

async function login(url: string): Promise<string> {
  const response = await fetch(`${url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'ct-workstation', password: 'device secret 123' }) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { accessToken: string }).accessToken;
}

it('survives kill -9 mid-upload three times and completes byte-identical', async () => {
  const dataDir = join(workDir, 'data');
  const added = await relayUserCommand(dataDir, ['add', 'ct-workstation', '--role', 'device', '--password-stdin'], 'device secret 123\n');
  expect(added.code, added.stderr).toBe(0);
  const study = await generateStudy(join(workDir, 'study'), { instances: 12, rows: 256, columns: 256, patient: { name: 'CANARY^PHI^NEVERLOGGED', id: 'SYNCANARY77' } });
  const files = await Promise.all(study.instances.map((i) => readFile(i.path)));
  const manifest = await manifestFor(study.instances.map((i) => i.path), study.instances.map((i) => i.sopInstanceUid), '1.2.840.10008.5.1.4.1.1.2');
  const chunkBytes = 8 * 1024; // 12 × 128 KiB in 192 chunks: each life (5-25 chunks) is cut long before the end
  const acknowledged = new Set<string>();
  let uploadId: string | undefined;

  for (let life = 0; life < 4; life++) {
    const relay = await spawnRelay(dataDir, join(workDir, `relay-${life}.log`));
    const client = new TestUploadClient(relay.url);
    const init = await client.init(await login(relay.url), { study: { studyInstanceUid: study.studyInstanceUid, serviceLevel: 'STAT' }, instances: manifest });
    expect(init.status, JSON.stringify(init.body)).toBe(life === 0 ? 201 : 200);
    uploadId ??= init.body.uploadId;
    expect(init.body.uploadId).toBe(uploadId);
    // Every chunk acknowledged in an earlier life is still held.
    for (const key of acknowledged) {
      const [index, offset] = key.split('/').map(Number) as [number, number];
      const instance = init.body.status.instances[index]!;
      expect(instance.missing.some(([s, e]) => offset < e && offset + chunkBytes > s && offset < instance.size), `chunk ${key} lost`).toBe(false);
    }
    const pending = init.body.status.instances.flatMap((instance) => instance.missing.flatMap(([start, end]) => {
      const offsets: [number, number][] = [];
      for (let offset = start; offset < end; offset += chunkBytes) offsets.push([instance.index, offset]);
      return offsets;
    }));
    const last = life === 3;
    // In lives 0-2 the relay is killed after a random number of chunks, while more are in flight.
    const killAfter = last ? Infinity : 5 + Math.floor(Math.random() * 20);
    let sent = 0;
    let refused = 0;
    let acknowledgedThisLife = 0;
    // Four chunks in flight at a time, as a client sends them: the kill lands with chunks in flight
    // and more still to send, however fast the relay answers.
    const queue = [...pending];
    const sendAll = async () => {
      for (let next = queue.shift(); next; next = queue.shift()) {
        const [index, offset] = next;
        const bytes = files[index]!.subarray(offset, Math.min(offset + chunkBytes, files[index]!.length));
        try {
          const result = await client.chunk(uploadId!, init.body.uploadToken, index, offset, bytes);
          if (result.status === 200) {
            acknowledged.add(`${index}/${offset}`);
            acknowledgedThisLife++;
          } else refused++;
        } catch {
          refused++;
          // connection refused or reset by the kill: not acknowledged, will be resent
        }
        sent++;
        if (sent === killAfter) await killNow(relay.process);
      }
    };
    await Promise.all(Array.from({ length: 4 }, sendAll));
    if (pending.length > 0) expect(acknowledgedThisLife).toBeGreaterThan(0);
    // The kill really cut uploads short: some chunks of this life never got an answer.
    if (!last) expect(refused).toBeGreaterThan(0);
    if (last) {
      // What the relay holds is byte-identical to what was sent. Read before completing: once the
      // study is accepted, its delivery (a local folder by default) deletes the data.
      for (const [index, bytes] of files.entries()) {
        expect(sha256(await heldInstance(dataDir, uploadId!, index))).toBe(sha256(bytes));
      }
      const complete = await client.request('POST', `/upload/${uploadId}/complete`, init.body.uploadToken);
      expect(complete.status, JSON.stringify(complete.body)).toBe(200);
      const status = complete.body as unknown as UploadStatus;
      expect(status.state).toBe('accepted');
      expect(status.instances.every((i) => i.state === 'verified')).toBe(true);
      await relay.process.stop();
      // No PHI in logs: the relay's logs of every life hold neither the patient's name nor ID.
      for (let l = 0; l <= life; l++) {
        const log = await readFile(join(workDir, `relay-${l}.log`), 'utf8');
        expect(log.length).toBeGreaterThan(0);
        expect(log).not.toContain('CANARY');
        expect(log).not.toContain('SYNCANARY77');
      }
    } else {
      await killNow(relay.process);
    }
  }
}, 180_000);

async function killNow(relayProcess: ManagedProcess): Promise<void> {
  if (relayProcess.hasExited) return;
  process.kill(relayProcess.pid!, 'SIGKILL');
  await relayProcess.exited;
}
