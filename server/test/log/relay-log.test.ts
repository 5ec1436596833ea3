// Where the relay's log goes (issue 15, section 1): `npm start` gives the relay --log-file
// DATA/logs/relay.log, so its console holds sentences for a person while the JSON request log goes
// to the file; a terminal sees only warnings and errors, readable; anything not a terminal gets
// JSON lines on stdout, as pino users (containers, systemd) expect.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RotatingLogFile, relayLogDestination } from '../../src/log/relay-log.js';

const RELAY_BIN = join(import.meta.dirname, '../../bin/relaypacs-relay.js');
// util-linux's `script` gives the relay a real terminal (a pseudo-terminal) as stdout.
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
const jsonLine = /^\s*\{"level":\d+/m;

let dir: string;
beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'relay-log-')); });
/** Every relay started and not yet stopped: afterEach ends them, whatever the test did (a timeout, a failed start). */
const running = new Set<() => Promise<void>>();
afterEach(async () => {
  for (const stop of running) await stop();
  await rm(dir, { recursive: true, force: true });
});

interface Started { child: ChildProcess; url: string; output: () => string; stdout: () => string; stop: () => Promise<void> }

/** Starts relaypacs-relay as its own process group; `tty`: stdout (and stderr) are a pseudo-terminal. */
async function startRelay(args: string[], options: { tty: boolean; env?: NodeJS.ProcessEnv }): Promise<Started> {
  const argv = [process.execPath, '--max-semi-space-size=8', RELAY_BIN, '--port', '0', ...args];
  const env = { ...process.env, RELAYPACS_METRICS_PORT: 'off', RELAYPACS_IDLE_GC: 'off', ...options.env };
  const quoted = argv.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = options.tty
    ? spawn('script', ['-qfec', quoted, '/dev/null'], { env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] })
    : spawn(argv[0]!, argv.slice(1), { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let all = '';
  child.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); all += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { all += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    running.delete(stop);
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // The group is gone already.
      }
    }
    await exited;
  };
  running.add(stop);
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!(url = /listening on (http:\/\/[^,\s]+)/.exec(all)?.[1])) {
    if (Date.now() > deadline || child.exitCode !== null) {
      await stop();
      throw new Error(`the relay did not start:\n${all}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child, url, output: () => all, stdout: () => stdout, stop,
  };
}

describe('relaypacs-relay, as a process', () => {
  it.skipIf(!hasScript)('as npm start runs it (--log-file, a terminal): no JSON on the console, requests in the file, warnings readable on the console', async () => {
    const data = join(dir, 'data');
    const logFile = join(data, 'logs', 'relay.log');
    // A low cap on connections per address makes one too many a warning (fetch keeps one alive too).
    const config = join(dir, 'relay.json');
    await writeFile(config, JSON.stringify({ http: { maxConnectionsPerAddress: 3 } }));
    const relay = await startRelay(['--data', data, '--log-file', logFile], { tty: true, env: { RELAYPACS_CONFIG: config } });
    try {
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${relay.url}/no-such-route`)).status).toBe(404);
      const { port } = new URL(relay.url);
      const sockets: Socket[] = [];
      for (let i = 0; i < 4; i++) {
        const socket = connect(Number(port), '127.0.0.1');
        socket.on('error', () => {});
        await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
        sockets.push(socket);
      }
      await expect.poll(() => relay.output(), { timeout: 10_000 }).toMatch(/WARN +connection refused: too many open connections/);
      for (const socket of sockets) socket.destroy();
    } finally {
      await relay.stop();
    }
    const console = relay.output();
    expect(console).toContain(`log in ${logFile}`);
    expect(console).not.toMatch(jsonLine);
    expect(console).not.toContain('incoming request');
    const lines = (await readFile(logFile, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { msg: string; req?: { url: string }; level: number });
    expect(lines.some((line) => line.msg === 'incoming request' && line.req?.url === '/healthz')).toBe(true);
    expect(lines.some((line) => line.msg === 'incoming request' && line.req?.url === '/no-such-route')).toBe(true);
    expect(lines.some((line) => line.level === 40 && line.msg.startsWith('connection refused'))).toBe(true);
  });

  it('stdout not a terminal, no log file: JSON lines on stdout, one per request as pino users expect', async () => {
    const relay = await startRelay(['--data', join(dir, 'data')], { tty: false });
    try {
      expect((await fetch(`${relay.url}/healthz`)).status).toBe(200);
      await expect.poll(() => relay.stdout(), { timeout: 10_000 }).toContain('request completed');
    } finally {
      await relay.stop();
    }
    const lines = relay.stdout().trim().split('\n').map((line) => JSON.parse(line) as { msg: string; req?: { url: string } });
    expect(lines.some((line) => line.msg === 'incoming request' && line.req?.url === '/healthz')).toBe(true);
    expect(await readdir(join(dir, 'data'))).not.toContain('logs');
  });
});

describe('relayLogDestination', () => {
  const info = '{"level":30,"time":0,"msg":"incoming request","req":{"method":"GET","url":"/healthz"}}\n';
  const warn = '{"level":40,"time":0,"reqId":"req-7","msg":"connection refused"}\n';
  const debug = '{"level":20,"time":0,"msg":"details"}\n';

  it('on a terminal shows warnings and above, one readable line each, at the default level', () => {
    const written: string[] = [];
    const destination = relayLogDestination({ logFile: undefined, level: 'info', stdout: { isTTY: true, write: (text: string) => written.push(text) } });
    for (const line of [info, warn, debug]) destination.stream!.write(line);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/WARN +connection refused \(reqId=req-7\)\n$/);
  });

  it('on a terminal honours a level chosen on purpose (debug shows more)', () => {
    const written: string[] = [];
    const destination = relayLogDestination({ logFile: undefined, level: 'debug', stdout: { isTTY: true, write: (text: string) => written.push(text) } });
    for (const line of [info, warn, debug]) destination.stream!.write(line);
    expect(written).toHaveLength(3);
    expect(written[0]).toMatch(/INFO +incoming request \(GET \/healthz\)/);
  });

  it('not on a terminal and without a file: pino writes to stdout itself', () => {
    expect(relayLogDestination({ logFile: undefined, level: 'info', stdout: { isTTY: false, write: () => true } }).stream).toBeUndefined();
  });

  it('with a file and no terminal: everything to the file, nothing to stdout', async () => {
    const written: string[] = [];
    const file = join(dir, 'logs', 'relay.log');
    const destination = relayLogDestination({ logFile: file, level: 'info', stdout: { isTTY: false, write: (text: string) => written.push(text) } });
    for (const line of [info, warn]) destination.stream!.write(line);
    destination.close();
    expect(await readFile(file, 'utf8')).toBe(info + warn);
    expect(written).toEqual([]);
  });
});

describe('RotatingLogFile', () => {
  it('moves the file to PATH.1 once it would pass the cap, keeping one previous file', async () => {
    const path = join(dir, 'logs', 'relay.log');
    const file = new RotatingLogFile(path, 100);
    const line = (n: number) => `${String(n).padStart(39, '0')}\n`; // 40 bytes
    for (let n = 1; n <= 7; n++) file.write(line(n));
    file.close();
    file.write(line(8)); // after close: dropped, not thrown
    expect(await readFile(path, 'utf8')).toBe(line(7));
    expect(await readFile(`${path}.1`, 'utf8')).toBe(line(5) + line(6));
    expect((await readdir(join(dir, 'logs'))).sort()).toEqual(['relay.log', 'relay.log.1']);
  });

  it('appends to the file a previous run left, counting its size', async () => {
    const path = join(dir, 'relay.log');
    await writeFile(path, 'x'.repeat(90));
    const file = new RotatingLogFile(path, 100);
    file.write('y'.repeat(20));
    file.close();
    expect(await readFile(path, 'utf8')).toBe('y'.repeat(20));
    expect(await readFile(`${path}.1`, 'utf8')).toBe('x'.repeat(90));
  });
});
