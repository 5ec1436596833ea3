import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';

/** Children still running when the test process exits are killed, so no peer outlives its test run. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface ManagedProcessOptions {
  command: string;
  args: string[];
  /** Everything the process prints goes here, to show when it fails. */
  logPath: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
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
    });
    running.add(this.child);
    this.child.stdout?.pipe(log, { end: false });
    this.child.stderr?.pipe(log, { end: false });
    this.exited = new Promise((resolve) => {
      const finish = (status: ExitStatus) => {
        running.delete(this.child);
        this.exitStatus = status;
        log.end();
        resolve(status);
      };
      this.child.once('exit', (code, signal) => finish({ code, signal }));
      this.child.once('error', (error) => {
        log.write(`failed to start ${options.command}: ${error.message}\n`);
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

  /** SIGTERM, then SIGKILL after `graceMs`. Resolves with how it ended. */
  async stop(graceMs = 10_000): Promise<ExitStatus & { forced: boolean }> {
    if (this.exitStatus) return { ...this.exitStatus, forced: false };
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (outcome !== 'timeout') return { ...outcome, forced: false };
    this.child.kill('SIGKILL');
    return { ...(await this.exited), forced: true };
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
