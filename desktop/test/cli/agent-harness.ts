// The world the relaypacs agent's end-to-end tests run in: a real Orthanc, the real relay binary
// forwarding to it over STOW-RS, a private gnome-keyring for the agent's session, and the agent
// itself run as a child process (to completion, or in the background and stopped by the test).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { OrthancServer, relayUserCommand, runNodeProgram, spawnRelay, startKeyringSession, type GeneratedStudy, type KeyringSession, type ManagedProcess, type ProgramResult } from '@relaypacs/testkit';

export const AGENT = join(import.meta.dirname, '../../bin/relaypacs.js');
export const DEVICE = { user: 'ct-scanner', password: 'scanner secret 99' } as const;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface AgentWorldOptions {
  /** Merged into the relay configuration's `upload` section (e.g. chunk sizes). */
  upload?: Record<string, unknown>;
  /** Merged into the relay configuration's `delivery` section (e.g. maxAttempts). */
  delivery?: Record<string, unknown>;
  /** Serve HTTPS with this key and certificate (PEM files); the certificate is also the CA checked against. */
  tls?: { keyFile: string; certFile: string };
  /** The relay configuration's `reports` section (e.g. short intervals). */
  reports?: Record<string, unknown>;
}

/** The agent run in the background: output collected as it comes, stopped by the test or by AgentWorld.stop(). */
export class AgentChild {
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => { this.stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stdin.end();
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Sends `signal` (if still running) and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.running) this.child.kill(signal);
    return this.exited;
  }
}

export class AgentWorld {
  relay!: { process: ManagedProcess; url: string };
  private readonly children = new Set<AgentChild>();
  private relayLives = 0;

  private constructor(
    readonly workDir: string,
    readonly orthanc: OrthancServer,
    readonly keyring: KeyringSession,
    readonly relayDataDir: string,
    private readonly relayEnv: NodeJS.ProcessEnv,
    readonly agentEnv: NodeJS.ProcessEnv,
    private readonly httpsCa?: Buffer,
  ) {}

  /** Starts Orthanc, the keyring and the relay (with one device account); the agent is not signed in yet. */
  static async start(prefix: string, options: AgentWorldOptions = {}): Promise<AgentWorld> {
    const workDir = await mkdtemp(join(tmpdir(), prefix));
    let orthanc: OrthancServer | undefined;
    let keyring: KeyringSession | undefined;
    try {
      orthanc = await OrthancServer.start();
      keyring = await startKeyringSession();
      const relayDataDir = join(workDir, 'relay');
      const config = join(workDir, 'relay.json');
      await writeFile(config, JSON.stringify({
        upload: { minFreeDiskBytes: 0, ...options.upload }, delivery: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5, ...options.delivery },
        destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, confirm: true }],
        ...(options.tls ? { tls: options.tls } : {}),
        ...(options.reports ? { reports: options.reports } : {}),
      }));
      const added = await relayUserCommand(relayDataDir, ['add', DEVICE.user, '--role', 'device', '--password-stdin'], `${DEVICE.password}\n`);
      if (added.code !== 0) throw new Error(`could not add the device account: ${added.stderr}`);
      const world = new AgentWorld(workDir, orthanc, keyring, relayDataDir, { RELAYPACS_CONFIG: config },
        { ...process.env, ...keyring.env, RELAYPACS_AGENT_DATA: join(workDir, 'agent') }, options.tls ? await readFile(options.tls.certFile) : undefined);
      await world.startRelay();
      return world;
    } catch (error) {
      await keyring?.stop();
      await orthanc?.stop();
      await rm(workDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Starts the relay on its data folder; `samePort` brings it back where the agent knows it. Each life logs to relay-N.log. */
  async startRelay(options: { samePort?: boolean } = {}): Promise<void> {
    const port = options.samePort ? Number(new URL(this.relay.url).port) : undefined;
    this.relay = await spawnRelay(this.relayDataDir, this.relayLogPath(++this.relayLives), this.relayEnv,
      { ...(port === undefined ? {} : { port }), ...(this.httpsCa ? { httpsCa: this.httpsCa } : {}) });
  }

  /** Which life of the relay is running: 1 for the first start, 2 after a restart... */
  get relayLife(): number {
    return this.relayLives;
  }

  relayLogPath(life: number): string {
    return join(this.workDir, `relay-${life}.log`);
  }

  /** Runs the agent to completion. */
  agent(args: string[], stdin = ''): Promise<ProgramResult> {
    return runNodeProgram(AGENT, args, { env: this.agentEnv, stdin });
  }

  /** Starts the agent in the background. */
  spawnAgent(args: string[]): AgentChild {
    const child = new AgentChild(spawn(process.execPath, [AGENT, ...args], { env: this.agentEnv, stdio: ['pipe', 'pipe', 'pipe'] }));
    this.children.add(child);
    void child.exited.then(() => this.children.delete(child));
    return child;
  }

  login(): Promise<ProgramResult> {
    return this.agent(['login', '--relay', this.relay.url, '--user', DEVICE.user, '--password-stdin', '--json'], `${DEVICE.password}\n`);
  }

  /** SOP Instance UIDs of `study` that Orthanc holds, one entry per stored instance. */
  async heldInOrthanc(study: GeneratedStudy): Promise<string[]> {
    const wanted = new Set(study.instances.map((i) => i.sopInstanceUid));
    return (await this.orthanc.listInstances()).map((i) => i.sopInstanceUid).filter((uid) => wanted.has(uid));
  }

  /** A read-only look at the relay's SQLite file (the relay may be running, or dead). */
  withRelayDb<T>(read: (db: Database.Database) => T): T {
    const db = new Database(join(this.relayDataDir, 'relay.db'), { readonly: true, fileMustExist: true });
    try {
      return read(db);
    } finally {
      db.close();
    }
  }

  /** How many times the relay queued each instance of the study for delivery (once per upload that carried its bytes). */
  relayDeliveryItems(studyInstanceUid: string): Map<string, number> {
    const rows = this.withRelayDb((db) => db.prepare(`
      SELECT ui.sop_instance_uid AS uid, COUNT(*) AS n FROM delivery_items i
      JOIN deliveries d ON d.id = i.delivery_id JOIN uploads u ON u.id = d.upload_id
      JOIN upload_instances ui ON ui.upload_id = d.upload_id AND ui.idx = i.idx
      WHERE u.study_instance_uid = ? GROUP BY ui.sop_instance_uid`).all(studyInstanceUid) as { uid: string; n: number }[]);
    return new Map(rows.map((r) => [r.uid, r.n]));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.children].map((child) => child.stop('SIGKILL')));
    await this.relay?.process.stop();
    await this.keyring.stop();
    await this.orthanc.stop();
    await rm(this.workDir, { recursive: true, force: true });
  }
}
