import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Children still running when the test process exits are killed, so no peer outlives its test run. */
const running = new Map<ChildProcess, boolean>();
process.once('exit', () => {
  for (const [child, ownGroup] of running) signalChild(child, ownGroup, 'SIGKILL');
});

/** Signals the child, or its whole process group when it leads one; a group already gone is no error. */
function signalChild(child: ChildProcess, ownGroup: boolean, signal: NodeJS.Signals): void {
  if (!ownGroup || child.pid === undefined) {
    child.kill(signal);
    return;
  }
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export interface ManagedProcessOptions {
  command: string;
  args: string[];
  /** Everything the process prints goes here, to show when it fails. */
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Start it as the leader of its own process group, so stop() and kill() also reach what it forks
   * (PostgreSQL's backends): a peer's children must not outlive it.
   */
  processGroup?: boolean;
  /** What stop() sends first; SIGTERM unless the program shuts down faster on another (PostgreSQL: SIGINT). */
  stopSignal?: NodeJS.Signals;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * A real peer program (Orthanc, storescp, a keyring daemon) run for a test: output captured to a
 * log file, exit observed, stopped with SIGTERM and, if it does not go, SIGKILL.
 */
export class ManagedProcess {
  readonly exited: Promise<ExitStatus>;
  private exitStatus: ExitStatus | undefined;
  private readonly child: ChildProcess;

  constructor(readonly options: ManagedProcessOptions) {
    const log = createWriteStream(options.logPath, { flags: 'a' });
    this.child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.processGroup === true,
    });
    running.set(this.child, options.processGroup === true);
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    // The log ends once the pipes close, not at the child's exit: members of its group (PostgreSQL's
    // backends after its postmaster was killed) hold them and may still write a line or two.
    this.child.once('close', () => log.end());
    this.exited = new Promise((resolve) => {
      const finish = (status: ExitStatus) => {
        running.delete(this.child);
        this.exitStatus = status;
        resolve(status);
      };
      this.child.once('exit', (code, signal) => finish({ code, signal }));
      this.child.once('error', (error) => {
        log.end(`failed to start ${options.command}: ${error.message}\n`);
        finish({ code: null, signal: null });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exitStatus !== undefined;
  }

  async logText(): Promise<string> {
    return readFile(this.options.logPath, 'utf8').catch(() => '');
  }

  /** Last lines of the log, for error messages. */
  async logTail(lines = 30): Promise<string> {
    return (await this.logText()).split('\n').slice(-lines).join('\n');
  }

  /**
   * The stop signal (SIGTERM unless configured), then SIGKILL after `graceMs`. With a process
   * group, whatever is left in the group once the leader has gone is SIGKILLed too. Resolves with
   * how the leader ended.
   */
  async stop(graceMs = 10_000): Promise<ExitStatus & { forced: boolean }> {
    const ownGroup = this.options.processGroup === true;
    if (this.exitStatus) {
      if (ownGroup) signalChild(this.child, true, 'SIGKILL');
      return { ...this.exitStatus, forced: false };
    }
    this.child.kill(this.options.stopSignal ?? 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome !== 'timeout') {
      if (ownGroup) signalChild(this.child, true, 'SIGKILL');
      return { ...outcome, forced: false };
    }
    signalChild(this.child, ownGroup, 'SIGKILL');
    return { ...(await this.exited), forced: true };
  }

  /** SIGKILL at once, to the whole group when it has one: a crash, not a shutdown. */
  async kill(): Promise<ExitStatus> {
    const ownGroup = this.options.processGroup === true;
    if (ownGroup || !this.exitStatus) signalChild(this.child, ownGroup, 'SIGKILL');
    return this.exited;
  }
}

/** Polls `probe` until it returns true, the process dies, or `timeoutMs` passes. */
export async function waitUntilReady(process: ManagedProcess, probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (process.hasExited) throw new Error(`${what} exited before it was ready:\n${await process.logTail()}`);
    if (await probe().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} was not ready after ${timeoutMs} ms:\n${await process.logTail()}`);
}
