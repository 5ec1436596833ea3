// What an operator does by hand to run several relays (docs/relay.md, Several relays), step by
// step, with the real programs: three `relaypacs-relay` processes given only the two URLs, the
// object store's credentials and a destination; Debian's HAProxy in front, with the configuration
// the production docs ship (docs/deploy/haproxy.cfg, only its addresses changed for loopback); the
// `relaypacs` agent uploading through it with --wait into a real Orthanc; and a fourth relay,
// started afterwards, replaying the events of that upload, which it never saw.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  freeLoopbackPort, generateStudy, ManagedProcess, OrthancServer, PostgresServer, RELAY_BIN, runNodeProgram, spawnRelay, startKeyringSession,
  SwiftS3Server, waitUntilReady, type KeyringSession,
} from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AGENT, DEVICE } from './agent-harness.js';

const BUCKET = 'relaypacs-by-hand';
const HAPROXY_CFG = join(import.meta.dirname, '../../../docs/deploy/haproxy.cfg');

let workDir: string;
let postgres: PostgresServer;
let swift: SwiftS3Server;
let orthanc: OrthancServer;
let keyring: KeyringSession;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-by-hand-'));
  // The engines IT already runs: PostgreSQL, an S3 store with a bucket, a PACS; and the agent's keychain.
  [postgres, swift, orthanc, keyring] = await Promise.all([PostgresServer.start(), SwiftS3Server.start(), OrthancServer.start(), startKeyringSession()]);
  await swift.createBucket(BUCKET);
}, 120_000);

afterAll(async () => {
  await Promise.allSettled(started.map((p) => p.stop()));
  await Promise.allSettled([postgres?.stop(), swift?.stop(), orthanc?.stop(), keyring?.stop()]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
}, 60_000);

it('three relays started with the two URLs take an upload --wait through HAProxy into Orthanc; a fourth replays its events', async () => {
  // Only what docs/relay.md asks for: the two URLs, the store's credentials, a destination.
  const storageUrl = `s3://${BUCKET}/site?endpoint=${encodeURIComponent(swift.endpoint)}&region=${swift.region}&forcePathStyle=true`;
  const relayEnv = {
    RELAYPACS_DATABASE_URL: postgres.url, RELAYPACS_STORAGE_URL: storageUrl,
    AWS_ACCESS_KEY_ID: swift.accessKeyId, AWS_SECRET_ACCESS_KEY: swift.secretAccessKey,
    RELAYPACS_STOW_URL: orthanc.dicomWebUrl,
  };
  const relay = async (n: number) => {
    const dataDir = join(workDir, `relay-${n}`);
    await mkdir(dataDir);
    const spawned = await spawnRelay(dataDir, join(workDir, `relay-${n}.log`), relayEnv);
    started.push(spawned.process);
    return { ...spawned, port: Number(new URL(spawned.url).port), log: join(workDir, `relay-${n}.log`) };
  };

  // The account, made once through any relay's CLI with the same database URL.
  const added = await runNodeProgram(RELAY_BIN, ['--data', join(workDir, 'admin'), 'user', 'add', DEVICE.user, '--role', 'device', '--password-stdin',
    '--database-url', postgres.url], { stdin: `${DEVICE.password}\n` });
  expect(added.code, added.stderr).toBe(0);
  const relays = [await relay(1), await relay(2), await relay(3)];

  // HAProxy with the shipped configuration, its addresses put on loopback.
  const balancerPort = await freeLoopbackPort();
  const shipped = await readFile(HAPROXY_CFG, 'utf8');
  const config = shipped
    .replace('bind :8780', `bind 127.0.0.1:${balancerPort}`)
    .replace(/server relay-(\d) relay-\d:8780/g, (_, n: string) => `server relay-${n} 127.0.0.1:${relays[Number(n) - 1]!.port}`)
    .replace(/check inter 5s/g, 'check inter 1s');
  expect(config).not.toMatch(/relay-\d:8780|bind :8780/);
  await writeFile(join(workDir, 'haproxy.cfg'), config);
  const haproxy = new ManagedProcess({ command: '/usr/sbin/haproxy', args: ['-f', join(workDir, 'haproxy.cfg')], logPath: join(workDir, 'haproxy.log') });
  started.push(haproxy);
  const balancer = `http://127.0.0.1:${balancerPort}`;
  await waitUntilReady(haproxy, async () => (await fetch(`${balancer}/readyz`)).ok, 20_000, 'haproxy');

  // The agent, signed in through the balancer, sends a study and waits until the PACS confirms it.
  const agentEnv = { ...process.env, ...keyring.env, RELAYPACS_AGENT_DATA: join(workDir, 'agent') };
  const agent = (args: string[], stdin = '') => runNodeProgram(AGENT, args, { env: agentEnv, stdin });
  const login = await agent(['login', '--relay', balancer, '--user', DEVICE.user, '--password-stdin', '--json'], `${DEVICE.password}\n`);
  expect(login.code, login.stderr).toBe(0);
  const study = await generateStudy(join(workDir, 'study'), { instances: 12, series: 2, rows: 128, columns: 128 });
  const upload = await agent(['upload', join(workDir, 'study'), '--wait', '--json']);
  expect(upload.code, upload.stderr).toBe(0);
  const outcome = (JSON.parse(upload.stdout.trim().split('\n').at(-1)!) as { jobs: { state: string; uploadId: string }[] }).jobs[0]!;
  expect(outcome.state).toBe('delivered'); // --stow-url's destination does not ask the PACS to confirm

  // Every instance in Orthanc once, byte-identical.
  const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
  const held = (await orthanc.listInstances()).filter((i) => study.instances.some((s) => s.sopInstanceUid === i.sopInstanceUid));
  expect(held.map((i) => i.sopInstanceUid).sort()).toEqual(study.instances.map((i) => i.sopInstanceUid).sort());
  for (const instance of study.instances) {
    const id = await orthanc.findInstance(instance.sopInstanceUid);
    expect(sha(await orthanc.instanceFile(id!))).toBe(sha(await readFile(instance.path)));
  }
  // The balancer spread the chunks: every relay received some.
  for (const r of relays) expect(await readFile(r.log, 'utf8')).toMatch(/"url":"\/upload\/[^"]+\/chunk/);

  // A fourth relay, started now, replays the events of the upload it never saw.
  const late = await relay(4);
  const signIn = await fetch(`${late.url}/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: DEVICE.user, password: DEVICE.password }),
  });
  expect(signIn.status).toBe(200);
  const { accessToken } = await signIn.json() as { accessToken: string };
  const stream = await fetch(`${late.url}/events`, { headers: { authorization: `Bearer ${accessToken}`, 'last-event-id': '0' } });
  const reader = stream.body!.getReader();
  let text = '';
  const deadline = Date.now() + 10_000;
  while (!text.includes(`"type":"delivered","uploadId":"${outcome.uploadId}"`) && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await reader.cancel();
  expect(text).toContain(`"type":"delivered","uploadId":"${outcome.uploadId}"`);
  expect(text).toContain(`"type":"accepted","uploadId":"${outcome.uploadId}"`);
}, 240_000);
