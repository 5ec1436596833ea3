import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { freeLoopbackPort } from './free-port.js';
import { ManagedProcess, waitUntilReady } from './managed-process.js';

/** The relay's launcher in this repository (runs dist/ when built, else the sources through tsx). */
export const RELAY_BIN = join(import.meta.dirname, '../../../server/bin/relaypacs-relay.js');

/** The real `relaypacs-relay` binary as a child process on a free loopback port. */
export async function spawnRelay(dataDir: string, logPath: string, env: NodeJS.ProcessEnv = {}): Promise<{ process: ManagedProcess; url: string }> {
  const port = await freeLoopbackPort();
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
export function relayUserCommand(dataDir: string, args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RELAY_BIN, '--data', dataDir, 'user', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}
