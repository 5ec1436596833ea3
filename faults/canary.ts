// The PHI canary and the suite's shared places: every study the fault suite generates carries a
// patient name with this run's unique token, every log the agent and relay write is kept under one
// folder, and global-setup.ts scans that folder for the token once all suites have run.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Short form for CI (RELAYPACS_FAULTS=short): smaller studies, fewer kill points, a shorter cut. */
export const SHORT = process.env.RELAYPACS_FAULTS === 'short';

export function canaryToken(): string {
  const token = process.env.RELAYPACS_FAULTS_CANARY;
  if (!token) throw new Error('run the fault suite with npm run test:faults (its global setup sets the canary)');
  return token;
}

export function canaryLogDir(): string {
  const dir = process.env.RELAYPACS_FAULTS_LOG_DIR;
  if (!dir) throw new Error('run the fault suite with npm run test:faults (its global setup sets the log folder)');
  return dir;
}

/** The synthetic patient every fault-suite study carries: a name and ID no log may ever show. */
export function canaryPatient(): { name: string; id: string } {
  return { name: `CANARY^${canaryToken()}`, id: `CAN${canaryToken()}` };
}

/** Writes one suite's figures to faults/results/NAME.json (NAME-short.json in the short form). */
export async function recordResult(name: string, result: unknown): Promise<void> {
  const dir = join(import.meta.dirname, 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}${SHORT ? '-short' : ''}.json`), `${JSON.stringify({ date: new Date().toISOString(), short: SHORT, ...(result as object) }, null, 2)}\n`);
}
