// Benchmark: the relay on its embedded backends (SQLite, local disk) against the relay on the shared
// engines (PostgreSQL, S3: Swift's s3api from Debian), one relay and three behind a round-robin
// balancer, side by side in one run. The same agent (`relaypacs upload --wait`) sends the same new
// study through each setup in turn (which goes first rotates per run); each study is removed from
// Orthanc after it is delivered. On 2 cores three relays cannot be faster than one: the figure is
// the cost of the shared engines per instance, and what a balancer and three processes add.
//   npm run bench:scale-out -- [--runs 3] [--short] [--only ct,small]
// Results: bench/results/scale-out.json (--short: scale-out-short.json).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, generateStudy, PostgresServer, RoundRobinBalancer, SwiftS3Server, type GeneratedStudy } from '@relaypacs/testkit';
import { BenchWorld, median, round, type BenchRelay } from './bench-world.js';
import { buildForBench } from './builds.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, short: { type: 'boolean' }, only: { type: 'string' } } });
const short = values.short === true;
const runs = Number(values.runs ?? (short ? 1 : 3));
if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs: 1 to 20');
const WORKLOADS = ['ct', 'small'] as const;
type Workload = (typeof WORKLOADS)[number];
const only = (values.only?.split(',').map((w) => w.trim()) ?? [...WORKLOADS]) as Workload[];
if (only.some((w) => !WORKLOADS.includes(w))) throw new Error(`--only: one of ${WORKLOADS.join(', ')}`);
const sizes = short
  ? { ct: { instances: 40, rows: 256, columns: 256 }, small: { instances: 200, rows: 64, columns: 64 } }
  : { ct: { instances: 400, rows: 512, columns: 512 }, small: { instances: 2000, rows: 64, columns: 64 } };
// postgres-disk (PostgreSQL with chunks on local disk) tells what PostgreSQL costs apart from what the
// object store costs: Swift's s3api, the S3 server Debian has, is far slower than a production store.
const SETUPS = ['sqlite-disk', 'postgres-disk', 'postgres-s3', 'three-relays'] as const;
type Setup = (typeof SETUPS)[number];
const COMPONENTS = ['relay', 'database', 'objectStore', 'pacs'] as const;
type Component = (typeof COMPONENTS)[number];
const BUCKET = 'relaypacs-bench';
const log = (message: string) => console.error(`bench scale-out: ${message}`);

const { relayBuild, agentEnv, relayEnv } = await buildForBench(log);
if (relayBuild !== 'dist') throw new Error('the relay did not build: nothing to measure');
let world: BenchWorld | undefined;
/** One database per setup: relays sharing a database share what PACS already hold (delivered_instances), so a study sent through one setup would be "already delivered" in the next. */
let postgresOne: PostgresServer | undefined;
let postgresDisk: PostgresServer | undefined;
let postgresThree: PostgresServer | undefined;
let swift: SwiftS3Server | undefined;
let balancer: RoundRobinBalancer | undefined;
const relays: BenchRelay[] = [];
try {
  world = await BenchWorld.start('scale-out', agentEnv);
  [postgresOne, postgresDisk, postgresThree, swift] = await Promise.all([PostgresServer.start(), PostgresServer.start(), PostgresServer.start(), SwiftS3Server.start()]);
  await swift.createBucket(BUCKET);
  const shared = (database: PostgresServer) => ({
    ...relayEnv, RELAYPACS_RELAY_BUILD: 'dist',
    RELAYPACS_DATABASE_URL: database.url,
    AWS_ACCESS_KEY_ID: swift!.accessKeyId, AWS_SECRET_ACCESS_KEY: swift!.secretAccessKey,
  });
  const storageUrl = (prefix: string) => `s3://${BUCKET}/${prefix}?endpoint=${encodeURIComponent(swift!.endpoint)}&region=${swift!.region}&forcePathStyle=true`;
  const start = async (name: string, env: Record<string, string>) => {
    const relay = await world!.startRelay(name, env);
    relays.push(relay);
    return relay;
  };
  const urls: Record<Setup, string> = {
    'sqlite-disk': (await start('sqlite-disk', { ...relayEnv, RELAYPACS_RELAY_BUILD: 'dist' })).url,
    'postgres-disk': (await start('postgres-disk', shared(postgresDisk))).url,
    'postgres-s3': (await start('postgres-s3', { ...shared(postgresOne), RELAYPACS_STORAGE_URL: storageUrl('one') })).url,
    'three-relays': '',
  };
  const three = [];
  for (let n = 1; n <= 3; n++) three.push(await start(`three-${n}`, { ...shared(postgresThree), RELAYPACS_STORAGE_URL: storageUrl('three'), RELAYPACS_INSTANCE_NAME: `bench-${n}` }));
  balancer = await RoundRobinBalancer.start(three.map((r) => Number(new URL(r.url).port)));
  urls['three-relays'] = balancer.url;
  // Where each setup's CPU goes: its relay(s), its database (SQLite is inside the relay), the object
  // store, and the PACS. The balancer runs in this process and is not counted.
  const pidOf = (relay: BenchRelay) => relay.process.pid!;
  const pacs = [world.orthanc.pid!];
  const components: Record<Setup, Record<Component, number[]>> = {
    'sqlite-disk': { relay: [pidOf(relays[0]!)], database: [], objectStore: [], pacs },
    'postgres-disk': { relay: [pidOf(relays[1]!)], database: [postgresDisk.pid!], objectStore: [], pacs },
    'postgres-s3': { relay: [pidOf(relays[2]!)], database: [postgresOne.pid!], objectStore: swift.pids, pacs },
    'three-relays': { relay: three.map(pidOf), database: [postgresThree.pid!], objectStore: swift.pids, pacs },
  };
  const cpuNow = async (setup: Setup) => Object.fromEntries(await Promise.all(COMPONENTS.map(async (c) => [c, await cpuSeconds(components[setup][c])] as const))) as Record<Component, number>;

  const results: Record<string, unknown> = {};
  for (const workload of only) {
    const times: Record<Setup, number[]> = { 'sqlite-disk': [], 'postgres-disk': [], 'postgres-s3': [], 'three-relays': [] };
    const cpu: Record<Setup, Record<Component, number[]>> = Object.fromEntries(SETUPS.map((s) => [s, Object.fromEntries(COMPONENTS.map((c) => [c, []]))])) as never;
    for (let r = 0; r < runs; r++) {
      const dir = join(world.workDir, `${workload}-${r}`);
      const study: GeneratedStudy = await generateStudy(dir, { ...sizes[workload], series: 2 });
      const order = SETUPS.map((_, i) => SETUPS[(i + r) % SETUPS.length]!);
      for (const setup of order) {
        const before = await cpuNow(setup);
        times[setup].push((await world.agentUpload(study, dir, urls[setup])).seconds);
        const after = await cpuNow(setup);
        for (const c of COMPONENTS) cpu[setup][c].push(after[c] - before[c]);
        await world.deleteStudy(study);
      }
      await rm(dir, { recursive: true, force: true });
      log(`${workload} run ${r + 1}/${runs}: ${SETUPS.map((s) => `${s} ${times[s].at(-1)!.toFixed(2)} s (cpu ${COMPONENTS.map((c) => `${c} ${cpu[s][c].at(-1)!.toFixed(2)}`).join(' ')})`).join(', ')}`);
    }
    const base = median(times['sqlite-disk']);
    results[workload] = {
      instances: sizes[workload].instances, runs,
      seconds: Object.fromEntries(SETUPS.map((s) => [s, times[s].map((t) => round(t))])),
      medianSeconds: Object.fromEntries(SETUPS.map((s) => [s, round(median(times[s]))])),
      ratioToSqliteDisk: Object.fromEntries(SETUPS.map((s) => [s, round(median(times[s]) / base, 3)])),
      // What the shared engines cost per instance over the embedded ones, in milliseconds.
      extraMsPerInstance: Object.fromEntries(SETUPS.slice(1).map((s) => [s, round(((median(times[s]) - base) * 1000) / sizes[workload].instances, 2)])),
      // CPU milliseconds per instance, by program (medians over the runs): what each engine costs,
      // steadier than wall time on a noisy machine.
      cpuMsPerInstance: Object.fromEntries(SETUPS.map((s) => [s, Object.fromEntries(COMPONENTS.map((c) => [c, round((median(cpu[s][c]) * 1000) / sizes[workload].instances, 2)]))])),
    };
  }
  const report = { date: new Date().toISOString(), short, setups: SETUPS, ...results };
  console.log(JSON.stringify(report, null, 2));
  const resultsDir = join(import.meta.dirname, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, short ? 'scale-out-short.json' : 'scale-out.json'), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  await balancer?.stop();
  for (const relay of relays) await relay.process.stop();
  await Promise.allSettled([postgresOne?.stop(), postgresDisk?.stop(), postgresThree?.stop(), swift?.stop()]);
  await world?.stop();
}
