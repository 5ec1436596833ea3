// Benchmark: the relay's resident memory over many small instances and after it goes idle, for
// several allocator settings of the relay process side by side in one run (issue 13, finding 11:
// RSS grew 133 → 280–358 MB over 10,000 instances while the JS heap stayed at 36–39 MB).
//
// For each variant a fresh relay (the real binary, compiled, on a free loopback port, delivering to
// its default folder destination) receives N instances (studies of 100 × 64×64 16-bit, ~10 KB each)
// from real agents (`relaypacs upload DIR --wait`, two at once, each sending batches of studies
// until the relay reports them delivered). Sampled from outside: VmRSS every second
// (/proc/PID/status), the JS heap and external memory from the relay's /metrics (prom-client default
// metrics), and where the memory sits (/proc/PID/smaps: the main malloc heap, glibc thread-arena
// heaps, the rest) at the baseline, at the end of the upload and after --idle seconds. Then, for the
// glibc variants, gdb asks the idle relay for malloc_stats() (bytes each arena holds vs uses) and
// calls malloc_trim(0): what RSS drops by is memory malloc had freed but not given back.
//   npx tsx bench/relay-memory.ts [--short] [--instances N] [--runs R] [--idle S] [--variants a,b] [--agents 2] [--results-file NAME]
// --short: 3,000 instances, 30 s idle, five variants (CI-speed check); full: 50,000 instances, 60 s
// idle, every variant (about 5 minutes each on the 2-core machine).
// Results: bench/results/relay-memory(-short).json; the full run rewrites its section of
// docs/BENCHMARKS.md (between the relay-memory markers).
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { freeLoopbackPort, generateStudy, relayUserCommand, runNodeProgram, spawnRelay, startKeyringSession } from '@relaypacs/testkit';
import { buildForBench } from './builds.js';
import { replaceBenchmarksSection } from './doc-section.js';

const run = promisify(execFile);
const { values } = parseArgs({ options: {
  short: { type: 'boolean' }, instances: { type: 'string' }, runs: { type: 'string' }, idle: { type: 'string' },
  variants: { type: 'string' }, agents: { type: 'string' }, 'results-file': { type: 'string' }, 'no-docs': { type: 'boolean' }, keep: { type: 'boolean' },
} });
const short = values.short === true;
const PER_STUDY = 100;
const instancesWanted = Number(values.instances ?? (short ? 3_000 : 50_000));
const studyCount = Math.max(1, Math.round(instancesWanted / PER_STUDY));
const totalInstances = studyCount * PER_STUDY;
const runs = Number(values.runs ?? 1);
const idleSeconds = Number(values.idle ?? (short ? 30 : 60));
const agentCount = Number(values.agents ?? 2);
/** Studies per `relaypacs upload` command: each agent sends one batch folder, then takes the next. */
const batchStudies = short ? 5 : 10;
const ROOT = join(import.meta.dirname, '..');
const AGENT = join(ROOT, 'desktop/bin/relaypacs.js');
const DEVICE = { user: 'bench-device', password: 'bench device secret' };
const MiB = 1024 * 1024;
const JEMALLOC = ['/usr/lib/x86_64-linux-gnu/libjemalloc.so.2', '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2'].find((p) => existsSync(p));

interface Variant { name: string; description: string; env: Record<string, string | undefined>; glibc: boolean; /** V8 flags, through NODE_OPTIONS. */ nodeOptions?: string }
// Every variant names every allocator variable, so nothing leaks in from the shell that runs the bench.
// The relay's own idle GC (server/src/ops/idle-memory-release.ts) is off but where a variant measures it.
const CLEAR = { MALLOC_ARENA_MAX: undefined, MALLOC_TRIM_THRESHOLD_: undefined, MALLOC_TOP_PAD_: undefined, MALLOC_MMAP_THRESHOLD_: undefined, GLIBC_TUNABLES: undefined, LD_PRELOAD: undefined, MALLOC_CONF: undefined, RELAYPACS_IDLE_GC: 'off' };
const WITH_IDLE_GC = { ...CLEAR, RELAYPACS_IDLE_GC: undefined };
const ALL_VARIANTS: Variant[] = [
  { name: 'glibc', description: 'glibc malloc, defaults (up to 8 arenas per core)', env: { ...CLEAR }, glibc: true },
  { name: 'arena2', description: 'glibc, MALLOC_ARENA_MAX=2', env: { ...CLEAR, MALLOC_ARENA_MAX: '2' }, glibc: true },
  {
    name: 'arena2-trim', description: 'glibc, MALLOC_ARENA_MAX=2, MALLOC_TRIM_THRESHOLD_=131072, MALLOC_MMAP_THRESHOLD_=131072, MALLOC_TOP_PAD_=0 (fixed thresholds: no dynamic growth)',
    env: { ...CLEAR, MALLOC_ARENA_MAX: '2', MALLOC_TRIM_THRESHOLD_: '131072', MALLOC_MMAP_THRESHOLD_: '131072', MALLOC_TOP_PAD_: '0' }, glibc: true,
  },
  ...(JEMALLOC ? [
    { name: 'jemalloc', description: 'LD_PRELOAD libjemalloc2 (Debian), its defaults', env: { ...CLEAR, LD_PRELOAD: JEMALLOC }, glibc: false },
    {
      name: 'jemalloc-decay', description: 'LD_PRELOAD libjemalloc2, MALLOC_CONF=background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0',
      env: { ...CLEAR, LD_PRELOAD: JEMALLOC, MALLOC_CONF: 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0' }, glibc: false,
    },
  ] : []),
  // V8's young generation: Node 24 lets it grow to 2 × 64 MiB semi-spaces on this machine, and an idle
  // relay runs no GC that would shrink it. These cap it (MiB per semi-space).
  { name: 'semi16', description: 'glibc defaults, node --max-semi-space-size=16', env: { ...CLEAR }, glibc: true, nodeOptions: '--max-semi-space-size=16' },
  { name: 'semi8', description: 'glibc defaults, node --max-semi-space-size=8', env: { ...CLEAR }, glibc: true, nodeOptions: '--max-semi-space-size=8' },
  // The relay's idle GC (on by default in the relay; off in the variants above): one memory-reducing
  // full GC once it goes quiet after work.
  { name: 'idle-gc', description: 'glibc defaults, the relay\'s idle GC', env: WITH_IDLE_GC, glibc: true },
  { name: 'semi8-idle-gc', description: 'glibc defaults, node --max-semi-space-size=8 and the idle GC (as deployed)', env: WITH_IDLE_GC, glibc: true, nodeOptions: '--max-semi-space-size=8' },
];
/** --short compares the default, the allocator settings that matter most, and the fix. */
const SHORT_VARIANTS = ['glibc', 'arena2', 'jemalloc-decay', 'semi8', 'semi8-idle-gc'];
const variants = values.variants ? values.variants.split(',').map((name) => {
  const found = ALL_VARIANTS.find((v) => v.name === name.trim());
  if (!found) throw new Error(`--variants: unknown ${name} (known: ${ALL_VARIANTS.map((v) => v.name).join(', ')})`);
  return found;
}) : short ? ALL_VARIANTS.filter((v) => SHORT_VARIANTS.includes(v.name)) : ALL_VARIANTS;

const round = (x: number, digits = 1) => Number(x.toFixed(digits));
const mib = (bytes: number) => round(bytes / MiB);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (message: string) => console.error(`relay-memory: ${message}`);

function machine() {
  return { cores: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', ramGiB: round(totalmem() / 1024 ** 3), node: process.version, kernel: execFileSync('uname', ['-r']).toString().trim(), glibc: execFileSync('ldd', ['--version']).toString().split('\n')[0] };
}

async function status(pid: number): Promise<{ rss: number; hwm: number; threads: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
  return { rss: field('VmRSS') * 1024, hwm: field('VmHWM') * 1024, threads: field('Threads') };
}

/**
 * Where the resident memory sits, from /proc/PID/smaps. glibc gives each thread arena its own heaps:
 * anonymous mappings of exactly 64 MiB (HEAP_MAX_SIZE), 64 MiB-aligned, read-write up to what the arena
 * grew to and PROT_NONE (---p) after. The main arena is the brk heap ([heap]).
 */
async function memoryMap(pid: number) {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  interface Region { start: bigint; end: bigint; perms: string; path: string; rss: number; anon: number }
  const regions: Region[] = [];
  let current: Region | undefined;
  for (const line of text.split('\n')) {
    const header = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      current = { start: BigInt(`0x${header[1]}`), end: BigInt(`0x${header[2]}`), perms: header[3]!, path: header[4]!.trim(), rss: 0, anon: 0 };
      regions.push(current);
      continue;
    }
    const field = /^(Rss|Anonymous):\s+(\d+) kB/.exec(line);
    if (field && current) current[field[1] === 'Rss' ? 'rss' : 'anon'] = Number(field[2]) * 1024;
  }
  const HEAP = 64n * BigInt(MiB);
  let arenaHeaps = 0;
  let arenaRss = 0;
  for (let i = 0; i < regions.length; i++) {
    const r = regions[i]!;
    if (r.path !== '' || r.start % HEAP !== 0n || !r.perms.startsWith('rw')) continue;
    const next = regions[i + 1];
    const span = r.end - r.start + (next && next.start === r.end && next.perms.startsWith('---') && next.path === '' ? next.end - next.start : 0n);
    if (span !== HEAP) continue;
    arenaHeaps++;
    arenaRss += r.rss;
  }
  const sum = (pick: (r: Region) => boolean, field: 'rss' | 'anon' = 'rss') => regions.filter(pick).reduce((s, r) => s + r[field], 0);
  const rss = sum(() => true);
  const anon = sum(() => true, 'anon');
  const brkHeap = sum((r) => r.path === '[heap]');
  const fileBacked = sum((r) => r.path.startsWith('/'));
  return {
    rssMiB: mib(rss), anonymousMiB: mib(anon), fileBackedMiB: mib(fileBacked),
    mainArenaBrkHeapMiB: mib(brkHeap), threadArenaHeaps: arenaHeaps, threadArenaHeapsMiB: mib(arenaRss),
    /** Anonymous memory outside the malloc heaps: V8's heap pages, large mmap'd allocations, stacks. */
    otherAnonymousMiB: mib(anon - brkHeap - arenaRss),
  };
}

/** The relay's own view: V8 heap used and committed, external (Buffers), RSS, from /metrics. */
async function scrape(metricsUrl: string | undefined) {
  if (!metricsUrl) return undefined;
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) return undefined;
    const text = await response.text();
    const value = (suffix: string) => {
      const m = new RegExp(`^\\w*${suffix} (\\S+)`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const delivered = [...text.matchAll(/^\w*delivered_instances_total\{[^}]*\} (\S+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
    const used = value('nodejs_heap_size_used_bytes');
    const total = value('nodejs_heap_size_total_bytes');
    const external = value('nodejs_external_memory_bytes');
    return {
      heapUsedMiB: used === undefined ? undefined : mib(used), heapTotalMiB: total === undefined ? undefined : mib(total),
      externalMiB: external === undefined ? undefined : mib(external), delivered,
    };
  } catch {
    return undefined;
  }
}

/**
 * /metrics may sit on a loopback listener of its own (`metrics.port`, or RELAYPACS_METRICS_PORT):
 * when the config schema of the relay being measured accepts that field, the bench gives it a free
 * port (in the config file and the environment, so either way agrees) and scrapes there; otherwise
 * it scrapes the relay's own port.
 */
async function metricsPlacement(): Promise<{ configPart: Record<string, unknown>; env: Record<string, string>; url: (relayUrl: string) => string }> {
  const schema = relayBuild === 'dist' ? join(ROOT, 'server/dist/config/relay-config.js') : join(ROOT, 'server/src/config/relay-config.ts');
  if (existsSync(schema)) {
    const port = await freeLoopbackPort();
    try {
      const { parseRelayConfig } = await import(pathToFileURL(schema).href) as { parseRelayConfig: (input: Record<string, unknown>) => unknown };
      parseRelayConfig({ metrics: { port } });
      return { configPart: { metrics: { port } }, env: { RELAYPACS_METRICS_PORT: String(port) }, url: () => `http://127.0.0.1:${port}/metrics` };
    } catch {
      // No such field: /metrics is on the relay's own port.
    }
  }
  return { configPart: {}, env: {}, url: (relayUrl) => `${relayUrl}/metrics` };
}

/** gdb into the idle relay: malloc_stats() (to the relay's stderr, i.e. its log), then malloc_trim(0). */
async function mallocProbe(pid: number, logPath: string) {
  const before = (await readFile(logPath, 'utf8').catch(() => '')).length;
  try {
    await run('gdb', ['-p', String(pid), '-batch', '-nx', '-ex', 'call (void) malloc_stats()', '-ex', 'call (int) malloc_trim(0)'], { timeout: 60_000 });
  } catch (error) {
    return { error: (error as Error).message.split('\n')[0] };
  }
  await sleep(1_000);
  const output = (await readFile(logPath, 'utf8').catch(() => '')).slice(before);
  const arenas = [...output.matchAll(/Arena (\d+):\s*\nsystem bytes\s*=\s*(\d+)\s*\nin use bytes\s*=\s*(\d+)/g)]
    .map((m) => ({ arena: Number(m[1]), systemMiB: mib(Number(m[2])), inUseMiB: mib(Number(m[3])) }));
  const total = /Total \(incl\. mmap\):\s*\nsystem bytes\s*=\s*(\d+)\s*\nin use bytes\s*=\s*(\d+)/.exec(output);
  return {
    arenas: arenas.length,
    arenaSystemMiB: round(arenas.reduce((s, a) => s + a.systemMiB, 0)),
    arenaInUseMiB: round(arenas.reduce((s, a) => s + a.inUseMiB, 0)),
    totalInclMmapSystemMiB: total ? mib(Number(total[1])) : undefined,
    totalInclMmapInUseMiB: total ? mib(Number(total[2])) : undefined,
    perArena: arenas,
  };
}

/**
 * The relay's own figures, through the inspector it opens on SIGUSR1 (on the port --inspect-port gave
 * it): process.memoryUsage() and V8's heap spaces, then a full GC (HeapProfiler.collectGarbage) and
 * the same again, so live JS memory is told apart from garbage V8 had no reason to collect while idle.
 */
interface HeapReading { rssMiB: number; heapTotalMiB: number; heapUsedMiB: number; externalMiB: number; arrayBuffersMiB: number; spaces: Record<string, { sizeMiB: number; usedMiB: number }> }
/** The inspector's readings of the idle relay, or why there are none. */
type InspectorResult = { before: HeapReading; afterGc: HeapReading; rssAfterGcMiB: number; error?: undefined } | { error: string; before?: undefined; afterGc?: undefined; rssAfterGcMiB?: undefined };

async function inspectorProbe(pid: number, port: number): Promise<InspectorResult> {
  process.kill(pid, 'SIGUSR1');
  let target: string | undefined;
  for (let i = 0; i < 50 && !target; i++) {
    await sleep(200);
    target = await fetch(`http://127.0.0.1:${port}/json/list`).then(async (r) => ((await r.json()) as { webSocketDebuggerUrl: string }[])[0]?.webSocketDebuggerUrl).catch(() => undefined);
  }
  if (!target) return { error: 'inspector did not open' };
  const ws = new WebSocket(target);
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  let id = 0;
  const pending = new Map<number, (value: unknown) => void>();
  ws.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
  };
  const call = (method: string, params: Record<string, unknown> = {}) => Promise.race([
    new Promise((resolve) => { pending.set(++id, resolve); ws.send(JSON.stringify({ id, method, params })); }),
    sleep(60_000).then(() => { throw new Error(`inspector ${method} timed out`); }),
  ]);
  const expression = `JSON.stringify({ usage: process.memoryUsage(), spaces: process.getBuiltinModule('v8').getHeapSpaceStatistics().map((s) => ({ name: s.space_name, size: s.space_size, used: s.space_used_size })) })`;
  const read = async (): Promise<HeapReading> => {
    const result = await call('Runtime.evaluate', { expression, returnByValue: true }) as { result: { value: string } };
    const { usage, spaces } = JSON.parse(result.result.value) as { usage: Record<string, number>; spaces: { name: string; size: number; used: number }[] };
    return {
      rssMiB: mib(usage.rss!), heapTotalMiB: mib(usage.heapTotal!), heapUsedMiB: mib(usage.heapUsed!), externalMiB: mib(usage.external!), arrayBuffersMiB: mib(usage.arrayBuffers!),
      spaces: Object.fromEntries(spaces.map((s) => [s.name, { sizeMiB: mib(s.size), usedMiB: mib(s.used) }])),
    };
  };
  try {
    const before = await read();
    await call('HeapProfiler.collectGarbage');
    await sleep(2_000);
    const afterGc = await read();
    return { before, afterGc, rssAfterGcMiB: mib((await status(pid)).rss) };
  } finally {
    ws.close();
  }
}

async function hasGdb(): Promise<boolean> {
  try {
    await run('gdb', ['--version']);
    return true;
  } catch {
    return false;
  }
}

// Measured compiled, as deployed (bench/builds.ts).
const { relayBuild, agentBuild, relayEnv, agentEnv } = await buildForBench(log);
const gdb = await hasGdb();
if (!gdb) log('gdb not found: skipping malloc_stats and malloc_trim probes');

const started = Date.now();
const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-bench-memory-'));
// One keychain per agent, as on two workstations: the agent keeps one refresh token per relay in its
// keychain, and two agents sharing one would each present the other's spent token (reuse: session ended).
const keyrings = await Promise.all(Array.from({ length: agentCount }, () => startKeyringSession()));
try {
  // Studies once, shared by every variant (each relay has its own data folder, so each receives them anew).
  log(`generating ${studyCount} studies × ${PER_STUDY} instances (64×64, 16-bit)...`);
  const batches: string[] = [];
  for (let s = 0; s < studyCount; s++) {
    const batch = join(workDir, 'studies', `batch-${String(Math.floor(s / batchStudies)).padStart(4, '0')}`);
    if (batches.at(-1) !== batch) batches.push(batch);
    await generateStudy(join(batch, `study-${String(s).padStart(5, '0')}`), { instances: PER_STUDY, rows: 64, columns: 64, series: 2 });
  }
  const metrics = await metricsPlacement();
  log(`${batches.length} batches of up to ${batchStudies * PER_STUDY} instances; ${agentCount} agents at once; /metrics ${Object.keys(metrics.configPart).length ? 'on its own port' : 'on the relay port'}`);

  async function measureVariant(variant: Variant, round_: number) {
    const name = `${variant.name}-${round_}`;
    const dataDir = join(workDir, `relay-${name}`);
    const config = join(workDir, `relay-${name}.json`);
    const logPath = join(workDir, `relay-${name}.log`);
    await writeFile(config, JSON.stringify({ upload: { minFreeDiskBytes: 0 }, ...metrics.configPart }));
    const added = await relayUserCommand(dataDir, ['add', DEVICE.user, '--role', 'device', '--password-stdin'], `${DEVICE.password}\n`);
    if (added.code !== 0) throw new Error(added.stderr);
    const inspectPort = await freeLoopbackPort();
    const relay = await spawnRelay(dataDir, logPath, {
      NODE_OPTIONS: `--inspect-port=127.0.0.1:${inspectPort}${variant.nodeOptions ? ` ${variant.nodeOptions}` : ''}`,
      RELAYPACS_CONFIG: config, RELAYPACS_LOG_LEVEL: 'warn', ...relayEnv, ...metrics.env, ...variant.env,
    });
    const pid = relay.process.pid!;
    const metricsUrl = metrics.url(relay.url);
    try {
      const afterStart = await status(pid);
      // Agents signed in (Argon2id on the relay) before the baseline, so it includes sign-in.
      const agents: NodeJS.ProcessEnv[] = [];
      for (let a = 0; a < agentCount; a++) {
        const env = { ...process.env, ...keyrings[a]!.env, RELAYPACS_AGENT_DATA: join(workDir, `agent-${name}-${a}`), ...agentEnv };
        const login = await runNodeProgram(AGENT, ['login', '--relay', relay.url, '--user', DEVICE.user, '--password-stdin'], { env, stdin: `${DEVICE.password}\n` });
        if (login.code !== 0) throw new Error(`agent login: ${login.stderr}`);
        agents.push(env);
      }
      await sleep(2_000);
      const baseline = { ...(await status(pid)), map: await memoryMap(pid), metrics: await scrape(metricsUrl) };
      log(`${name}: baseline ${mib(baseline.rss)} MiB (after start ${mib(afterStart.rss)} MiB), heap ${baseline.metrics?.heapUsedMiB} MiB`);

      // RSS every second while sending, bounded by the upload deadline.
      const t0 = performance.now();
      const series: { s: number; rssMiB: number; heapUsedMiB?: number | undefined; externalMiB?: number | undefined; delivered?: number }[] = [];
      let sending = true;
      const sampler = (async () => {
        for (let i = 0; sending && i < 3_600; i++) {
          const st = await status(pid).catch(() => undefined);
          const m = i % 5 === 0 ? await scrape(metricsUrl) : undefined;
          if (st) series.push({ s: round((performance.now() - t0) / 1000), rssMiB: mib(st.rss), ...(m ? { heapUsedMiB: m.heapUsedMiB, externalMiB: m.externalMiB, delivered: m.delivered } : {}) });
          await sleep(1_000);
        }
      })();
      const uploadDeadline = Date.now() + Math.max(300_000, totalInstances * 40);
      let nextBatch = 0;
      let failure: Error | undefined;
      await Promise.all(agents.map(async (env) => {
        while (nextBatch < batches.length && failure === undefined) {
          if (Date.now() > uploadDeadline) {
            failure = new Error(`upload deadline passed with ${batches.length - nextBatch} batches unsent`);
            return;
          }
          const batch = batches[nextBatch++]!;
          const child = spawn(process.execPath, [AGENT, 'upload', batch, '--wait', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
          child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
          const [code] = await once(child, 'exit') as [number | null];
          if (code !== 0) {
            failure = new Error(`agent upload ${batch} exited ${code}: ${stderr.slice(-1500)} ${stdout.slice(-1500)}`);
            return;
          }
          const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as { jobs: { state: string }[] };
          if (outcome.jobs.length !== batchStudies && nextBatch < batches.length) log(`${name}: ${batch} gave ${outcome.jobs.length} jobs`);
          if (outcome.jobs.some((j) => j.state !== 'delivered')) {
            failure = new Error(`agent upload ${batch}: ${stdout.slice(-500)}`);
            return;
          }
        }
      }));
      const uploadSeconds = (performance.now() - t0) / 1000;
      sending = false;
      await sampler;
      if (failure) throw failure;
      const endOfUpload = { ...(await status(pid)), map: await memoryMap(pid), metrics: await scrape(metricsUrl) };
      // Every instance is in the folder destination, once.
      let deliveredFiles = 0;
      for (const study of await readdir(join(dataDir, 'delivered'))) deliveredFiles += (await readdir(join(dataDir, 'delivered', study))).length;
      log(`${name}: ${deliveredFiles} delivered in ${round(uploadSeconds)} s; RSS ${mib(endOfUpload.rss)} MiB, peak ${mib(endOfUpload.hwm)} MiB, heap ${endOfUpload.metrics?.heapUsedMiB} MiB; idle ${idleSeconds} s...`);

      const idleSeries: { s: number; rssMiB: number }[] = [];
      const idleStart = performance.now();
      for (let i = 0; i <= idleSeconds / 5; i++) {
        idleSeries.push({ s: round((performance.now() - idleStart) / 1000), rssMiB: mib((await status(pid)).rss) });
        if (i < idleSeconds / 5) await sleep(5_000);
      }
      const afterIdle = { ...(await status(pid)), map: await memoryMap(pid), metrics: await scrape(metricsUrl) };
      // Then the relay's own view and a forced full GC, then malloc's view and malloc_trim(0).
      const inspector: InspectorResult = await inspectorProbe(pid, inspectPort).catch((error: Error) => ({ error: error.message }));
      const probe = gdb && variant.glibc ? await mallocProbe(pid, logPath) : undefined;
      const afterTrim = probe && !('error' in probe) ? { rss: (await status(pid)).rss, map: await memoryMap(pid) } : undefined;
      const result = {
        variant: variant.name, round: round_, instances: deliveredFiles, uploadSeconds: round(uploadSeconds),
        relayThreads: endOfUpload.threads,
        rssAfterStartMiB: mib(afterStart.rss),
        baselineRssMiB: mib(baseline.rss), peakRssMiB: mib(afterIdle.hwm), endOfUploadRssMiB: mib(endOfUpload.rss), afterIdleRssMiB: mib(afterIdle.rss),
        afterIdleOverBaselineMiB: mib(afterIdle.rss - baseline.rss),
        heapUsedMiB: { baseline: baseline.metrics?.heapUsedMiB, endOfUpload: endOfUpload.metrics?.heapUsedMiB, afterIdle: afterIdle.metrics?.heapUsedMiB },
        heapTotalMiB: { baseline: baseline.metrics?.heapTotalMiB, endOfUpload: endOfUpload.metrics?.heapTotalMiB, afterIdle: afterIdle.metrics?.heapTotalMiB },
        externalMiB: { baseline: baseline.metrics?.externalMiB, endOfUpload: endOfUpload.metrics?.externalMiB, afterIdle: afterIdle.metrics?.externalMiB },
        memoryMap: { baseline: baseline.map, endOfUpload: endOfUpload.map, afterIdle: afterIdle.map, ...(afterTrim ? { afterMallocTrim: afterTrim.map } : {}) },
        inspectorAfterIdle: inspector,
        ...(inspector.afterGc ? { afterFullGcRssMiB: inspector.rssAfterGcMiB, releasedByFullGcMiB: mib(afterIdle.rss - inspector.rssAfterGcMiB * MiB), liveHeapAfterGcMiB: inspector.afterGc.heapUsedMiB, heapCommittedAfterGcMiB: inspector.afterGc.heapTotalMiB } : {}),
        ...(probe ? { mallocStatsAfterGc: probe } : {}),
        ...(afterTrim ? { afterMallocTrimRssMiB: mib(afterTrim.rss), releasedByMallocTrimMiB: round((inspector.afterGc ? inspector.rssAfterGcMiB : mib(afterIdle.rss)) - mib(afterTrim.rss)) } : {}),
        rssSeries: series, idleSeries,
      };
      log(`${name}: after idle ${result.afterIdleRssMiB} MiB (baseline ${result.baselineRssMiB}, peak ${result.peakRssMiB}), heap ${result.heapUsedMiB.afterIdle} / ${result.heapTotalMiB.afterIdle} MiB; after full GC ${result.afterFullGcRssMiB} MiB (heap ${result.liveHeapAfterGcMiB} / ${result.heapCommittedAfterGcMiB} MiB)${afterTrim ? `, after malloc_trim ${result.afterMallocTrimRssMiB} MiB; ${probe && 'arenas' in probe ? `${probe.arenas} arenas hold ${probe.arenaSystemMiB} MiB, use ${probe.arenaInUseMiB} MiB` : ''}` : ''}`);
      return result;
    } finally {
      await relay.process.stop();
      if (!values.keep) {
        await rm(dataDir, { recursive: true, force: true });
        for (let a = 0; a < agentCount; a++) await rm(join(workDir, `agent-${name}-${a}`), { recursive: true, force: true });
      }
    }
  }

  type Measured = Awaited<ReturnType<typeof measureVariant>>;
  const measured: Measured[] = [];
  const failures: { variant: string; round: number; error: string }[] = [];
  for (let r = 0; r < runs; r++) {
    // Order rotates each round, so drift on a shared machine does not always favour one variant.
    const order = variants.map((_, i) => variants[(i + r) % variants.length]!);
    for (const variant of order) {
      try {
        measured.push(await measureVariant(variant, r + 1));
        // Written as it goes, so an interrupted long run keeps what it measured.
        await mkdir(join(import.meta.dirname, 'results'), { recursive: true });
        await writeFile(join(import.meta.dirname, 'results', 'relay-memory-in-progress.json'), `${JSON.stringify({ date: new Date().toISOString(), instancesPerVariant: totalInstances, measured }, null, 2)}\n`);
      } catch (error) {
        // One variant failing (say an allocator that will not load) does not lose the others' figures.
        log(`${variant.name}-${r + 1} failed: ${(error as Error).message}`);
        failures.push({ variant: variant.name, round: r + 1, error: (error as Error).message.slice(0, 2000) });
        process.exitCode = 1;
      }
    }
  }

  const summary = variants.map((variant) => {
    const mine = measured.filter((m) => m.variant === variant.name);
    const med = (pick: (m: Measured) => number | undefined) => {
      const xs = mine.map(pick).filter((x): x is number => typeof x === 'number');
      return xs.length ? median(xs) : undefined;
    };
    return {
      variant: variant.name, description: variant.description, runs: mine.length,
      baselineRssMiB: med((m) => m.baselineRssMiB), peakRssMiB: med((m) => m.peakRssMiB), endOfUploadRssMiB: med((m) => m.endOfUploadRssMiB),
      afterIdleRssMiB: med((m) => m.afterIdleRssMiB), afterIdleOverBaselineMiB: med((m) => m.afterIdleOverBaselineMiB),
      newSpaceAfterIdleMiB: med((m) => m.inspectorAfterIdle.before?.spaces.new_space?.sizeMiB),
      mallocArenasAfterGc: med((m) => (m.mallocStatsAfterGc && 'arenas' in m.mallocStatsAfterGc ? m.mallocStatsAfterGc.arenas : undefined)),
      mallocHeldAfterGcMiB: med((m) => (m.mallocStatsAfterGc && 'arenas' in m.mallocStatsAfterGc ? m.mallocStatsAfterGc.totalInclMmapSystemMiB : undefined)),
      mallocInUseAfterGcMiB: med((m) => (m.mallocStatsAfterGc && 'arenas' in m.mallocStatsAfterGc ? m.mallocStatsAfterGc.totalInclMmapInUseMiB : undefined)),
      afterFullGcRssMiB: med((m) => m.afterFullGcRssMiB), liveHeapAfterGcMiB: med((m) => m.liveHeapAfterGcMiB), heapCommittedAfterGcMiB: med((m) => m.heapCommittedAfterGcMiB),
      afterMallocTrimRssMiB: med((m) => m.afterMallocTrimRssMiB), releasedByMallocTrimMiB: med((m) => m.releasedByMallocTrimMiB),
      heapUsedAfterIdleMiB: med((m) => m.heapUsedMiB.afterIdle), heapTotalAfterIdleMiB: med((m) => m.heapTotalMiB.afterIdle), externalAfterIdleMiB: med((m) => m.externalMiB.afterIdle),
      threadArenaHeapsAfterIdle: med((m) => m.memoryMap.afterIdle.threadArenaHeaps), threadArenaHeapsAfterIdleMiB: med((m) => m.memoryMap.afterIdle.threadArenaHeapsMiB),
      mainArenaAfterIdleMiB: med((m) => m.memoryMap.afterIdle.mainArenaBrkHeapMiB), otherAnonymousAfterIdleMiB: med((m) => m.memoryMap.afterIdle.otherAnonymousMiB),
      uploadSeconds: med((m) => m.uploadSeconds),
    };
  });
  const base = summary.find((s) => s.variant === 'glibc');
  const withRatios = summary.map((s) => ({
    ...s,
    ...(base?.afterIdleRssMiB && s.afterIdleRssMiB ? { afterIdleRatioToGlibc: round(s.afterIdleRssMiB / base.afterIdleRssMiB, 2) } : {}),
    ...(base?.peakRssMiB && s.peakRssMiB ? { peakRatioToGlibc: round(s.peakRssMiB / base.peakRssMiB, 2) } : {}),
    ...(base?.uploadSeconds && s.uploadSeconds ? { uploadTimeRatioToGlibc: round(s.uploadSeconds / base.uploadSeconds, 2) } : {}),
  }));
  const result = {
    date: new Date().toISOString(), short, machine: machine(), relayBuild, agentBuild, instancesPerVariant: totalInstances,
    instancesPerStudy: PER_STUDY, studiesPerAgentCommand: batchStudies, agentsAtOnce: agentCount, idleSeconds, runs,
    destination: 'folder (the relay default)', benchSeconds: Math.round((Date.now() - started) / 1000),
    summary: withRatios, failures, measured,
  };
  console.log(JSON.stringify({ ...result, measured: undefined }, null, 2));
  const resultsDir = join(import.meta.dirname, 'results');
  await mkdir(resultsDir, { recursive: true });
  const resultsName = values['results-file'] ?? (values.instances ? 'relay-memory-partial.json' : short ? 'relay-memory-short.json' : 'relay-memory.json');
  await writeFile(join(resultsDir, resultsName), `${JSON.stringify(result, null, 2)}\n`);
  await rm(join(resultsDir, 'relay-memory-in-progress.json'), { force: true });
  if (!short && !values['no-docs'] && resultsName === 'relay-memory.json') await writeDocs(result);
} finally {
  for (const keyring of keyrings) await keyring.stop();
  if (!values.keep) await rm(workDir, { recursive: true, force: true });
  else log(`kept ${workDir}`);
}

/** Rewrites the generated table of the relay-memory section in docs/BENCHMARKS.md. */
async function writeDocs(result: { date: string; machine: ReturnType<typeof machine>; instancesPerVariant: number; idleSeconds: number; runs: number; summary: Record<string, unknown>[] }): Promise<void> {
  const m = result.machine;
  const cell = (x: unknown) => (x === undefined ? '–' : String(x));
  const lines = [
    '<!-- relay-memory:start (generated by `npx tsx bench/relay-memory.ts`; edit the text outside these markers) -->',
    `Measured ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cores} cores (${m.cpuModel}), ${m.ramGiB} GiB RAM, Node ${m.node}, Linux ${m.kernel}, ${m.glibc}; ${result.instancesPerVariant.toLocaleString('en')} instances per variant, ${result.idleSeconds} s idle, ${result.runs === 1 ? 'one run' : `median of ${result.runs} runs`}. MiB.`,
    '',
    '| variant | baseline | peak | after idle | after idle − baseline | JS heap committed / used after idle (new space) | after a full GC: RSS, live heap | malloc held / in use after GC (arenas) | after malloc_trim(0) | upload time vs glibc |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...result.summary.map((s) => `| ${String(s.variant)} | ${cell(s.baselineRssMiB)} | ${cell(s.peakRssMiB)} | ${cell(s.afterIdleRssMiB)} | ${cell(s.afterIdleOverBaselineMiB)} | ${cell(s.heapTotalAfterIdleMiB)} / ${cell(s.heapUsedAfterIdleMiB)} (${cell(s.newSpaceAfterIdleMiB)}) | ${cell(s.afterFullGcRssMiB)}, ${cell(s.liveHeapAfterGcMiB)} | ${s.mallocHeldAfterGcMiB === undefined ? '–' : `${cell(s.mallocHeldAfterGcMiB)} / ${cell(s.mallocInUseAfterGcMiB)} (${cell(s.mallocArenasAfterGc)})`} | ${cell(s.afterMallocTrimRssMiB)} | ${cell(s.uploadTimeRatioToGlibc)} |`),
    '<!-- relay-memory:end -->',
  ];
  await replaceBenchmarksSection('relay-memory', lines.join('\n'), `Relay memory over many instances (\`npx tsx bench/relay-memory.ts\`)`);
}
