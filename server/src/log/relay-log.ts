import { closeSync, fstatSync, mkdirSync, openSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** A log file is rotated once it passes this size: one previous file (PATH.1) is kept, so at most twice this on disk. */
export const LOG_FILE_MAX_BYTES = 10 * 1024 * 1024;

/** pino's numeric levels. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** What pino writes to: one JSON line per call. */
export interface LogStream {
  write(line: string): void;
}

export interface RelayLogDestination {
  /** Undefined: pino's own stdout destination (JSON lines). */
  stream: LogStream | undefined;
  /** Where the log goes, in words, for the relay's start-up line (undefined when it is stdout as usual). */
  description: string | undefined;
  close(): void;
}

interface Console {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * Where the relay's pino log goes. Three cases, so a person's terminal shows sentences while
 * machines still get JSON:
 * - a log file (--log-file, RELAYPACS_LOG_FILE; `npm start` uses DATA/logs/relay.log): every line
 *   goes there, as JSON; a terminal on stdout still sees warnings and errors, pretty-printed;
 * - stdout is a terminal: only warn and above (or the configured level when it is not the default
 *   `info`), pretty-printed: one JSON line per request is unreadable for a person;
 * - stdout is not a terminal (container, systemd, a pipe): JSON lines on stdout, as pino users expect.
 */
export function relayLogDestination(options: { logFile: string | undefined; level: string; stdout?: Console }): RelayLogDestination {
  const stdout = options.stdout ?? process.stdout;
  const tty = stdout.isTTY === true;
  // `info` is the default and means a request line each; in a terminal that drowns the sentences.
  // Any other level was chosen on purpose (debug to look closer, error to see less) and is honoured.
  const consoleLevel = options.level === 'info' ? LEVELS.warn! : (LEVELS[options.level] ?? LEVELS.warn!);
  const pretty = tty ? prettyConsole(stdout, consoleLevel) : undefined;
  if (options.logFile) {
    const file = new RotatingLogFile(options.logFile, LOG_FILE_MAX_BYTES);
    return {
      stream: { write(line) { file.write(line); pretty?.write(line); } },
      description: `log in ${options.logFile}`,
      close: () => file.close(),
    };
  }
  if (pretty) return { stream: pretty, description: 'warnings and errors on this terminal', close() {} };
  return { stream: undefined, description: undefined, close() {} };
}

/** Turns pino's JSON lines at or above `threshold` into one short line for a person; the rest is dropped. */
function prettyConsole(out: Console, threshold: number): LogStream {
  return {
    write(line) {
      // pino writes the level first ({"level":40,...}): most lines are skipped without parsing.
      const level = Number(/^\{"level":(\d+)/.exec(line)?.[1] ?? 30);
      if (level < threshold) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        out.write(line);
        return;
      }
      out.write(`${formatEntry(entry, level)}\n`);
    },
  };
}

/** `12:03:04 WARN  msg (key=value ...)`: the message first, the ids after, for a person reading along. */
export function formatEntry(entry: Record<string, unknown>, level: number): string {
  const time = typeof entry.time === 'number' ? new Date(entry.time).toTimeString().slice(0, 8) : '';
  const { level: _level, time: _time, pid: _pid, hostname: _hostname, msg, err, req, res, ...rest } = entry;
  const details: string[] = [];
  const request = req as { method?: string; url?: string } | undefined;
  if (request?.method) details.push(`${request.method} ${request.url ?? ''}`);
  const response = res as { statusCode?: number } | undefined;
  if (response?.statusCode) details.push(`status ${response.statusCode}`);
  for (const [key, value] of Object.entries(rest)) details.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const error = err as { message?: string; type?: string } | undefined;
  if (error?.message) details.push(`error: ${error.message}`);
  const name = (NAMES[level] ?? String(level)).padEnd(5);
  return `${time} ${name} ${typeof msg === 'string' ? msg : ''}${details.length ? ` (${details.join(', ')})` : ''}`;
}

/**
 * Appends lines to a file, synchronously as pino's own default destination does, and rotates it
 * (PATH to PATH.1, replacing the older one) once it passes `maxBytes`: a relay left running for
 * months must not fill the disk its uploads need. Mode 0600: the log names users and addresses.
 */
export class RotatingLogFile {
  private fd: number;
  private size: number;

  constructor(private readonly path: string, private readonly maxBytes: number) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.fd = openSync(path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  write(line: string): void {
    // A line logged while the relay shuts down, after close, is dropped rather than thrown.
    if (this.fd < 0) return;
    const bytes = Buffer.from(line);
    if (this.size > 0 && this.size + bytes.length > this.maxBytes) this.rotate();
    writeSync(this.fd, bytes);
    this.size += bytes.length;
  }

  close(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = 0;
  }
}
