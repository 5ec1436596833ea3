import { join } from 'node:path';
import { freeLoopbackPort } from './free-port.js';
import { ManagedProcess, waitUntilReady } from './managed-process.js';
import { runNodeProgram, type ProgramResult } from './run-node-program.js';

/** The relay's launcher in this repository (runs dist/ when built, else the sources through tsx). */
export const RELAY_BIN = join(import.meta.dirname, '../../../server/bin/relaypacs-relay.js');

/**
 * The real `relaypacs-relay` binary as a child process on a free loopback port, or on `port` (a
 * relay restarted where its clients already know it).
 */
export async function spawnRelay(dataDir: string, logPath: string, env: NodeJS.ProcessEnv = {}, options: { port?: number } = {}): Promise<{ process: ManagedProcess; url: string }> {
  const port = options.port ?? await freeLoopbackPort();
  const child = new ManagedProcess({
    command: process.execPath,
    args: [RELAY_BIN, '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'],
    logPath,
    env: { ...process.env, RELAYPACS_LOG_LEVEL: 'info', ...env },
  });
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, async () => (await fetch(`${url}/healthz`)).ok, 30_000, 'relaypacs-relay');
  return { process: child, url };
}

/** Runs `relaypacs-relay user ...` against a data directory, with the password on stdin. */
export function relayUserCommand(dataDir: string, args: string[], stdin = ''): Promise<ProgramResult> {
  return runNodeProgram(RELAY_BIN, ['--data', dataDir, 'user', ...args], { stdin });
}
