// The fuzzer's side of the harness process (malformed-input-harness.ts). The targets (the import
// into a real SQLite catalog, the relay's Part 10 validator, the relay's upload protocol) run in a
// child process so that a mutant that never returns, even one stuck in a synchronous loop, can be
// stopped: each stage gets a time limit, and past it the child is killed and the input counted as
// a hang. The child's resident set is watched from here through /proc (Linux), its peak reset
// before every input, so each input's own peak is known.
import { fork, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceIds } from './dicom-mutators.js';

export interface HarnessJob {
  iteration: number;
  target: 'dicom' | 'zip' | 'dicomdir';
  /** The mutant on disk. */
  path: string;
  /** What the import is pointed at: the mutant, or the medium's folder for a DICOMDIR. */
  importPath: string;
  /** Validate with the relay's validator against these (DICOM mutants only). */
  ids?: InstanceIds;
  /** Also send it through the relay's upload protocol over HTTP. */
  http: boolean;
}

export type StageName = 'import' | 'validate' | 'http';

export interface ImportOutcome {
  ok: boolean;
  ms: number;
  error?: string;
  counts?: { found: number; imported: number; duplicates: number; conflicts: number; skipped: number };
  skips?: { displayName: string; code: string; reason: string }[];
}

export interface ValidateOutcome {
  ok: boolean;
  ms: number;
  error?: string;
  /** 'accepted' or the rejection code. */
  verdict?: string;
  reason?: string;
  readBytes?: number;
  largestRead?: number;
}

export interface HttpOutcome {
  ok: boolean;
  ms: number;
  error?: string;
  statuses?: number[];
  /** 'verified' or the rejection code. */
  verdict?: string;
  reason?: string;
}

export interface HarnessResult {
  iteration: number;
  import: ImportOutcome;
  validate?: ValidateOutcome;
  http?: HttpOutcome;
  /** process.memoryUsage().rss in the child after the input. */
  rss: number;
  /** V8 heap in use and memory outside it (Buffers, SQLite, zlib) after the input: what a leak would grow. */
  heapUsed: number;
  heapTotal: number;
  external: number;
  openFiles: number;
}

export type HarnessMessage =
  | { type: 'ready'; pid: number }
  | { type: 'stage'; stage: StageName }
  | { type: 'done'; result: HarnessResult }
  | { type: 'fatal'; error: string };

export type RunOutcome =
  | { kind: 'done'; result: HarnessResult; peakRss: number; ms: number }
  | { kind: 'hang'; stage: StageName; ms: number; peakRss: number }
  | { kind: 'died'; stage: StageName; ms: number; peakRss: number; fatal: string | undefined; exit: string }
  | { kind: 'memory'; stage: StageName; ms: number; peakRss: number };

const HARNESS = join(import.meta.dirname, 'malformed-input-harness.ts');

export class HarnessClient {
  private stage: StageName = 'import';
  private fatal: string | undefined;
  private onMessage: ((message: HarnessMessage) => void) | undefined;
  private onExit: ((exit: string) => void) | undefined;
  private exited = false;
  private readonly log: WriteStream;

  private constructor(private readonly child: ChildProcess, logPath: string) {
    this.log = createWriteStream(logPath, { flags: 'a' });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    child.on('message', (message: HarnessMessage) => {
      if (message.type === 'fatal') this.fatal = message.error;
      if (message.type === 'stage') this.stage = message.stage;
      this.onMessage?.(message);
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      this.onExit?.(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Starts a harness over `workDir` (its catalog and temp area) and waits until its relay listens. */
  static async start(workDir: string, logPath: string, env: NodeJS.ProcessEnv): Promise<HarnessClient> {
    const child = fork(HARNESS, [workDir], {
      execArgv: ['--import', 'tsx', '--expose-gc'],
      serialization: 'advanced',
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env,
    });
    const client = new HarnessClient(child, logPath);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the fuzz harness did not start within 60 s')), 60_000);
      client.onMessage = (message) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        }
      };
      client.onExit = (exit) => {
        clearTimeout(timer);
        reject(new Error(`the fuzz harness exited while starting (${exit}): ${client.fatal ?? 'see its log'}`));
      };
    });
    return client;
  }

  /**
   * Runs one input. Every stage (import, validate, http) must end within `stageLimitMs`; a child
   * whose resident set passes `killRssBytes` is stopped at once (it would only take the machine down).
   */
  async run(job: HarnessJob, stageLimitMs: number, killRssBytes: number): Promise<RunOutcome> {
    if (this.exited) throw new Error('the fuzz harness is not running');
    const pid = this.pid;
    const peakResettable = await writeFile(`/proc/${pid}/clear_refs`, '5').then(() => true, () => false);
    let polledPeak = 0;
    const started = performance.now();
    this.stage = 'import';
    this.fatal = undefined;
    return new Promise<RunOutcome>((resolve) => {
      let settled = false;
      let stageTimer: NodeJS.Timeout;
      const finish = async (make: (peakRss: number, ms: number) => RunOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(stageTimer);
        clearInterval(poll);
        this.onMessage = undefined;
        this.onExit = undefined;
        const hwm = peakResettable ? await procStatus(pid, 'VmHWM') : 0;
        resolve(make(Math.max(hwm, polledPeak), performance.now() - started));
      };
      const armStage = () => {
        clearTimeout(stageTimer);
        stageTimer = setTimeout(() => {
          const stage = this.stage;
          void finish((peakRss, ms) => ({ kind: 'hang', stage, ms, peakRss }));
          this.child.kill('SIGKILL');
        }, stageLimitMs);
      };
      const poll = setInterval(() => {
        void procStatus(pid, 'VmRSS').then((rss) => {
          polledPeak = Math.max(polledPeak, rss);
          if (rss > killRssBytes && !settled) {
            const stage = this.stage;
            void finish((peakRss, ms) => ({ kind: 'memory', stage, ms, peakRss: Math.max(peakRss, rss) }));
            this.child.kill('SIGKILL');
          }
        });
      }, 20);
      this.onMessage = (message) => {
        if (message.type === 'stage') armStage();
        else if (message.type === 'done') {
          polledPeak = Math.max(polledPeak, message.result.rss);
          void finish((peakRss, ms) => ({ kind: 'done', result: message.result, peakRss, ms }));
        }
      };
      this.onExit = (exit) => {
        const stage = this.stage;
        const fatal = this.fatal;
        void finish((peakRss, ms) => ({ kind: 'died', stage, ms, peakRss, fatal, exit }));
      };
      armStage();
      this.child.send({ type: 'job', job });
    });
  }

  /** Peak resident set of the child since it started or since the last reset (VmHWM). */
  async highWaterMark(): Promise<number> {
    return procStatus(this.pid, 'VmHWM');
  }

  async stop(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.send({ type: 'stop' });
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await gone;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  /** Kills the child (after a hang or a memory blow-up it cannot be asked nicely). */
  async kill(): Promise<void> {
    if (!this.exited) {
      const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGKILL');
      await gone;
    }
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}

/** A "kB" line of /proc/PID/status in bytes; 0 when it cannot be read (the process is gone). */
async function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}
