// What the relay benchmarks share: one real Orthanc on loopback, a keyring session for the agents,
// relays with the bench's device account forwarding to that Orthanc, and the agent's timed
// `upload --wait` checked against what Orthanc holds. run-all.ts and relay-compare.ts use it.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrthancServer, relayUserCommand, RELAY_BIN, runNodeProgram, spawnRelay, startKeyringSession, type GeneratedStudy, type KeyringSession } from '@relaypacs/testkit';

const ROOT = join(import.meta.dirname, '..');
export const AGENT = join(ROOT, 'desktop/bin/relaypacs.js');
const DEVICE = { user: 'bench-device', password: 'bench device secret' };

export type BenchRelay = Awaited<ReturnType<typeof spawnRelay>>;

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const round = (x: number, digits = 2) => Number(x.toFixed(digits));
const seconds = (from: number) => (performance.now() - from) / 1000;

/** Peak resident set of a live process (VmHWM), in bytes. */
export async function vmHwmBytes(pid: number): Promise<number> {
  return Number(/VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

/** Resident set of a live process now (VmRSS), in bytes. */
export async function vmRssBytes(pid: number): Promise<number> {
  return Number(/VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
}

export class BenchWorld {
  private constructor(
    readonly workDir: string,
    readonly orthanc: OrthancServer,
    private readonly keyring: KeyringSession,
    private readonly agentEnv: Record<string, string>,
  ) {}

  static async start(name: string, agentEnv: Record<string, string>): Promise<BenchWorld> {
    const workDir = await mkdtemp(join(tmpdir(), `relaypacs-bench-${name}-`));
    const orthanc = await OrthancServer.start();
    const keyring = await startKeyringSession();
    return new BenchWorld(workDir, orthanc, keyring, agentEnv);
  }

  /**
   * A relay with its own data folder and the bench's device account, forwarding to the Orthanc.
   * `relayBin`: another checkout's launcher (relay-compare.ts); `env` selects its build.
   */
  async startRelay(name: string, env: Record<string, string>, relayBin = RELAY_BIN): Promise<BenchRelay> {
    const relayData = join(this.workDir, name);
    const config = join(this.workDir, `${name}.json`);
    await writeFile(config, JSON.stringify({
      upload: { minFreeDiskBytes: 0 },
      // "Until delivered", as curl's 200 and storescu's success mean: Orthanc answered that it stored
      // every instance. The relay's optional QIDO-RS confirmation (confirm: true) is a further check
      // that neither reference makes; docs/BENCHMARKS.md gives its cost.
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: this.orthanc.dicomWebUrl }],
    }));
    // Relays sharing one PostgreSQL (env RELAYPACS_DATABASE_URL) share the account too: the first adds it.
    const database = env.RELAYPACS_DATABASE_URL ? ['--database-url', env.RELAYPACS_DATABASE_URL] : [];
    const added = await relayUserCommand(relayData, ['add', DEVICE.user, '--role', 'device', '--password-stdin', ...database], `${DEVICE.password}\n`, relayBin);
    if (added.code !== 0 && !(database.length > 0 && /exists/.test(added.stderr))) throw new Error(added.stderr);
    return spawnRelay(relayData, join(this.workDir, `${name}.log`), { RELAYPACS_CONFIG: config, RELAYPACS_LOG_LEVEL: 'warn', ...env }, { relayBin });
  }

  /** A fresh agent data folder, signed in (untimed). */
  async freshAgent(relayUrl: string): Promise<NodeJS.ProcessEnv> {
    const env = { ...process.env, ...this.keyring.env, RELAYPACS_AGENT_DATA: join(this.workDir, `agent-${randomBytes(4).toString('hex')}`), ...this.agentEnv };
    const login = await runNodeProgram(AGENT, ['login', '--relay', relayUrl, '--user', DEVICE.user, '--password-stdin'], { env, stdin: `${DEVICE.password}\n` });
    if (login.code !== 0) throw new Error(`agent login: ${login.stderr}`);
    return env;
  }

  async deleteStudy(study: GeneratedStudy): Promise<void> {
    const matches = await this.orthanc.json<{ ID: string; Type: string }[]>('/tools/lookup', { method: 'POST', body: study.studyInstanceUid });
    for (const match of matches.filter((m) => m.Type === 'Study')) {
      const response = await this.orthanc.request(`/studies/${match.ID}`, { method: 'DELETE' });
      if (!response.ok) throw new Error(`Orthanc DELETE study: HTTP ${response.status}`);
    }
  }

  async heldCount(study: GeneratedStudy): Promise<number> {
    const matches = await this.orthanc.json<{ ID: string; Type: string }[]>('/tools/lookup', { method: 'POST', body: study.studyInstanceUid });
    const id = matches.find((m) => m.Type === 'Study')?.ID;
    if (!id) return 0;
    return (await this.orthanc.json<unknown[]>(`/studies/${id}/instances`)).length;
  }

  /** `relaypacs upload DIR --wait` until delivered; wall time of the whole command, and its peak RSS. */
  async agentUpload(study: GeneratedStudy, dir: string, relayUrl: string): Promise<{ seconds: number; agentPeakRssBytes: number }> {
    const env = await this.freshAgent(relayUrl);
    const started = performance.now();
    // /usr/bin/time reports the peak RSS of the agent process (the launcher runs it in-process).
    const child = spawn('/usr/bin/time', ['-f', 'maxrss-kb=%M', process.execPath, AGENT, 'upload', dir, '--wait', '--json'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const [code] = await once(child, 'exit') as [number | null];
    const elapsed = seconds(started);
    if (code !== 0) throw new Error(`agent upload exited ${code}: ${stderr.slice(-2000)}`);
    const outcome = JSON.parse(stdout.trim().split('\n').at(-1)!) as { jobs: { state: string }[] };
    if (outcome.jobs.some((j) => j.state !== 'delivered')) throw new Error(`agent upload: ${stdout.slice(-500)}`);
    const held = await this.heldCount(study);
    if (held !== study.instances.length) throw new Error(`agent upload: Orthanc holds ${held} of ${study.instances.length}`);
    return { seconds: elapsed, agentPeakRssBytes: Number(/maxrss-kb=(\d+)/.exec(stderr)?.[1] ?? 0) * 1024 };
  }

  async stop(): Promise<void> {
    await this.keyring.stop();
    await this.orthanc.stop();
    await rm(this.workDir, { recursive: true, force: true });
  }
}
