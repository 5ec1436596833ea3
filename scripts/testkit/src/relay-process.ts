import { get as httpsGet } from 'node:https';
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
export async function spawnRelay(dataDir: string, logPath: string, env: NodeJS.ProcessEnv = {},
  options: {
    port?: number;
    /** The relay's config sets `tls`: its URL is https, checked against this CA. */
    httpsCa?: string | Buffer;
    /** Another checkout's launcher (bench/relay-compare.ts runs an earlier commit's relay beside this one). */
    relayBin?: string;
  } = {}): Promise<{ process: ManagedProcess; url: string; metricsUrl: string }> {
  const port = options.port ?? await freeLoopbackPort();
  // GET /metrics has a loopback listener of its own (metrics.port): one free port each, so relays run side by side.
  const metricsPort = env.RELAYPACS_METRICS_PORT ?? String(await freeLoopbackPort());
  const child = new ManagedProcess({
    command: process.execPath,
    args: [options.relayBin ?? RELAY_BIN, '--data', dataDir, '--port', String(port), '--host', '127.0.0.1'],
    logPath,
    env: { ...process.env, RELAYPACS_LOG_LEVEL: 'info', ...env, RELAYPACS_METRICS_PORT: metricsPort },
  });
  const url = `${options.httpsCa ? 'https' : 'http'}://127.0.0.1:${port}`;
  const live = options.httpsCa ? () => httpsLive(`${url}/healthz`, options.httpsCa!) : async () => (await fetch(`${url}/healthz`)).ok;
  await waitUntilReady(child, live, 30_000, 'relaypacs-relay');
  return { process: child, url, metricsUrl: `http://127.0.0.1:${metricsPort}` };
}

/** Runs `relaypacs-relay user ...` against a data directory, with the password on stdin. */
export function relayUserCommand(dataDir: string, args: string[], stdin = '', relayBin = RELAY_BIN): Promise<ProgramResult> {
  return runNodeProgram(relayBin, ['--data', dataDir, 'user', ...args], { stdin });
}

function httpsLive(url: string, ca: string | Buffer): Promise<boolean> {
  return new Promise((resolve, reject) => {
    httpsGet(url, { ca }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    }).once('error', reject);
  });
}
