/**
 * Runs a system command and hands back what it printed. Policy and machine-id readers take one as an
 * argument, so the Windows (`reg query`) and macOS (`plutil`, `ioreg`) paths run under vitest on Linux
 * with recorded output; `execFileRunner` is the real one. No shell: arguments go to the program as they
 * are, so a value can never be read as a command.
 */
import { execFile } from 'node:child_process';

export interface CommandResult {
  /** The exit code; null when a signal ended the program. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Rejects only when the program could not be started at all (ENOENT, EACCES). */
export type CommandRunner = (command: string, args: readonly string[]) => Promise<CommandResult>;

export class CommandNotStartedError extends Error {
  constructor(readonly command: string, cause: Error) {
    super(`${command} could not be started: ${cause.message}`, { cause });
    this.name = 'CommandNotStartedError';
  }
}

/**
 * The real runner: execFile, UTF-8, 10 s and 4 MiB at most, no console window on Windows. cmd.exe gets
 * its arguments verbatim: Node would escape inner quotes with backslashes, which cmd does not read, so
 * a caller of cmd quotes its /c command line itself (registryPolicyCommand does).
 */
export const execFileRunner: CommandRunner = (command, args) => new Promise((resolve, reject) => {
  const verbatim = /(^|[\\/])cmd(\.exe)?$/i.test(command);
  execFile(command, [...args], { encoding: 'utf8', timeout: 10_000, maxBuffer: 4 * 1024 * 1024, windowsHide: true, windowsVerbatimArguments: verbatim }, (error, stdout, stderr) => {
    if (error && typeof error.code === 'string') {
      reject(new CommandNotStartedError(command, error));
      return;
    }
    resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
  });
});
