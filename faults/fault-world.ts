// The world a fault test runs in: a real Orthanc on loopback, the real relay binary forwarding to
// it over STOW-RS (listening on loopback or on the clinic veth address), a private gnome-keyring,
// and the agent as a child process (optionally inside the clinic namespace). Every byte the agent
// and the relay print is kept under the run's log folder, for the PHI canary scan at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ManagedProcess, OrthancServer, RELAY_BIN, freeLoopbackPort, relayUserCommand, startKeyringSession, waitUntilReady, type GeneratedStudy, type KeyringSession } from '@relaypacs/testkit';
import { canaryLogDir } from './canary.js';

export const AGENT = join(import.meta.dirname, '../desktop/bin/relaypacs.js');
export const DEVICE = { user: 'clinic-device', password: 'clinic device secret 7' } as const;
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface AgentRun {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export class FaultWorld {
  relay!: ManagedProcess;
  relayUrl = '';
  /** The relay's metrics listener (metrics.port), on a free loopback port of its own. */
  metricsUrl = '';
  private relayLives = 0;
  private metricsPort = 0;
  private agentRuns = 0;
  private readonly agents = new Set<AgentRun>();

  private constructor(
    readonly name: string,
    readonly workDir: string,
    readonly logDir: string,
    readonly orthanc: OrthancServer,
    readonly keyring: KeyringSession,
    readonly relayHost: string,
    readonly relayPort: number,
    readonly agentEnv: NodeJS.ProcessEnv,
    private readonly agentPrefix: string[],
    readonly relayDataDir: string,
  ) {}

  /**
   * `relayDataDir`: the relay's data folder (e.g. a small tmpfs the test mounted), else one under
   * workDir; `relayConfig`: sections merged into the relay's config over the suite's defaults.
   */
  static async start(name: string, options: { relayHost?: string; agentPrefix?: string[]; relayDataDir?: string; relayConfig?: { upload?: object; delivery?: object } } = {}): Promise<FaultWorld> {
    const workDir = await mkdtemp(join(tmpdir(), `relaypacs-faults-${name}-`));
    const logDir = join(canaryLogDir(), name);
    await mkdir(logDir, { recursive: true });
    const orthanc = await OrthancServer.start();
    const keyring = await startKeyringSession();
    const config = join(workDir, 'relay.json');
    await writeFile(config, JSON.stringify({
      upload: { minFreeDiskBytes: 0, ...options.relayConfig?.upload }, delivery: { initialBackoffSeconds: 0.2, maxBackoffSeconds: 2, ...options.relayConfig?.delivery },
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, confirm: true }],
    }));
    const relayData = options.relayDataDir ?? join(workDir, 'relay');
    const added = await relayUserCommand(relayData, ['add', DEVICE.user, '--role', 'device', '--password-stdin'], `${DEVICE.password}\n`);
    if (added.code !== 0) throw new Error(`could not add the device account: ${added.stderr}`);
    const port = await freeLoopbackPort();
    const world = new FaultWorld(name, workDir, logDir, orthanc, keyring, options.relayHost ?? '127.0.0.1', port,
      { ...process.env, ...keyring.env, RELAYPACS_AGENT_DATA: join(workDir, 'agent'), RELAYPACS_CONFIG: config }, options.agentPrefix ?? [], relayData);
    await world.startRelay();
    return world;
  }

  /** Starts (or restarts, on the same address and port) the relay; each life logs to its own file. */
  async startRelay(): Promise<void> {
    this.metricsPort ||= await freeLoopbackPort();
    const logPath = join(this.logDir, `relay-${++this.relayLives}.log`);
    this.relay = new ManagedProcess({
      command: process.execPath,
      args: [RELAY_BIN, '--data', this.relayDataDir, '--port', String(this.relayPort), '--host', this.relayHost],
      logPath,
      env: { ...process.env, RELAYPACS_LOG_LEVEL: 'info', RELAYPACS_CONFIG: this.agentEnv.RELAYPACS_CONFIG!, RELAYPACS_METRICS_PORT: String(this.metricsPort) },
    });
    this.metricsUrl = `http://127.0.0.1:${this.metricsPort}`;
    this.relayUrl = `http://${this.relayHost}:${this.relayPort}`;
    await waitUntilReady(this.relay, async () => (await fetch(`${this.relayUrl}/healthz`)).ok, 60_000, 'relaypacs-relay');
  }

  /**
   * Runs the agent in the background (inside the clinic namespace when the world has one); `env`
   * over the world's (e.g. RELAYPACS_AGENT_DATA: another workstation).
   */
  spawnAgent(args: string[], stdin = '', env: NodeJS.ProcessEnv = {}): AgentRun {
    const n = ++this.agentRuns;
    const argv = [...this.agentPrefix, process.execPath, AGENT, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...this.agentEnv, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const run: AgentRun = { child, stdout: '', stderr: '', exited: undefined as never };
    const outLog = join(this.logDir, `agent-${n}.out`);
    const errLog = join(this.logDir, `agent-${n}.err`);
    child.stdout!.on('data', (d: Buffer) => { run.stdout += d.toString(); void appendFile(outLog, d); });
    child.stderr!.on('data', (d: Buffer) => { run.stderr += d.toString(); void appendFile(errLog, d); });
    run.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdin!.end(stdin);
    this.agents.add(run);
    void run.exited.then(() => this.agents.delete(run));
    return run;
  }

  /** Runs the agent to completion. */
  async agent(args: string[], stdin = '', env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const run = this.spawnAgent(args, stdin, env);
    const { code } = await run.exited;
    return { code, stdout: run.stdout, stderr: run.stderr };
  }

  /** Signs the agent in as the device account (or as `as`, with `env` naming its own data folder). */
  async login(as: { user: string; password: string } = DEVICE, env: NodeJS.ProcessEnv = {}): Promise<void> {
    const result = await this.agent(['login', '--relay', this.relayUrl, '--user', as.user, '--password-stdin'], `${as.password}\n`, env);
    if (result.code !== 0) throw new Error(`agent login failed: ${result.stderr}`);
  }

  /** Per SOP Instance UID of the study: how many instances Orthanc holds (0 = lost, 2+ = duplicated). */
  async heldCounts(study: GeneratedStudy): Promise<Map<string, number>> {
    const counts = new Map(study.instances.map((i) => [i.sopInstanceUid, 0]));
    for (const instance of await this.orthanc.listInstances()) {
      if (counts.has(instance.sopInstanceUid)) counts.set(instance.sopInstanceUid, counts.get(instance.sopInstanceUid)! + 1);
    }
    return counts;
  }

  /** Over the studies: instances counted in Orthanc, lost (0 held), duplicated (2+), not byte-identical. */
  async tally(studies: GeneratedStudy[]): Promise<{ instances: number; lost: number; duplicated: number; mismatched: number }> {
    let lost = 0;
    let duplicated = 0;
    let mismatched = 0;
    let instances = 0;
    for (const study of studies) {
      for (const n of (await this.heldCounts(study)).values()) {
        instances++;
        if (n === 0) lost++;
        if (n > 1) duplicated++;
      }
      mismatched += (await this.mismatchedInstances(study)).length;
    }
    return { instances, lost, duplicated, mismatched };
  }

  /** Instances of the study whose file in Orthanc (REST /instances/{id}/file) differs from the original, or is missing. */
  async mismatchedInstances(study: GeneratedStudy): Promise<string[]> {
    const bad: string[] = [];
    for (const instance of study.instances) {
      const id = await this.orthanc.findInstance(instance.sopInstanceUid);
      const stored = id ? await this.orthanc.instanceFile(id) : undefined;
      if (!stored || createHash('sha256').update(stored).digest('hex') !== instance.sha256) bad.push(instance.sopInstanceUid);
    }
    return bad;
  }

  /** Chunk bytes the relay has acknowledged over all its lives (from its SQLite record of chunks). */
  relayChunkBytes(): number {
    const db = new Database(join(this.relayDataDir, 'relay.db'), { readonly: true, fileMustExist: true });
    try {
      const row = db.prepare('SELECT COALESCE(SUM(length), 0) AS n FROM upload_chunks').get() as { n: number } | undefined;
      return row?.n ?? 0;
    } catch {
      return Number.NaN;
    } finally {
      db.close();
    }
  }

  /** relaypacs_upload_bytes_received_total from the running relay's /metrics (this life only). */
  async relayBytesReceivedMetric(): Promise<number> {
    const text = await (await fetch(`${this.metricsUrl}/metrics`)).text();
    return Number(/^relaypacs_upload_bytes_received_total (\S+)$/m.exec(text)?.[1] ?? Number.NaN);
  }

  async stop(): Promise<void> {
    for (const run of this.agents) run.child.kill('SIGKILL');
    await Promise.all([...this.agents].map((run) => run.exited));
    await this.relay?.stop().catch(() => undefined);
    await this.keyring.stop().catch(() => undefined);
    await this.orthanc.stop().catch(() => undefined);
    await rm(this.workDir, { recursive: true, force: true });
  }
}

export const uniqueTag = () => randomBytes(4).toString('hex');
