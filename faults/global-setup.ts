// Sets the run's PHI canary and log folder before the fault suites, and scans every captured agent
// and relay log for the canary after them (Orthanc's own logs are out of scope: Orthanc is the PACS).
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recordResult, SHORT } from './canary.js';

export async function setup(): Promise<() => Promise<void>> {
  const token = `RPF${randomBytes(5).toString('hex').toUpperCase()}`;
  const logDir = await mkdtemp(join(tmpdir(), 'relaypacs-faults-logs-'));
  process.env.RELAYPACS_FAULTS_CANARY = token;
  process.env.RELAYPACS_FAULTS_LOG_DIR = logDir;
  return async () => {
    const files = await listFiles(logDir);
    let bytes = 0;
    const leaks: string[] = [];
    for (const file of files) {
      const text = await readFile(file, 'latin1');
      bytes += text.length;
      // The token alone catches every spelling: CANARY^TOKEN, CANARY TOKEN, CANTOKEN (the ID)...
      const hits = text.toUpperCase().split(token).length - 1;
      if (hits > 0) leaks.push(`${file.slice(logDir.length + 1)}: ${hits}`);
    }
    await recordResult('phi-canary', { token: 'RPF…(per run)', filesScanned: files.length, bytesScanned: bytes, occurrences: leaks.length === 0 ? 0 : leaks, short: SHORT });
    console.log(`PHI canary: ${files.length} log files (${bytes} bytes) from agent and relay scanned, ${leaks.length === 0 ? '0 occurrences' : `LEAKS in ${leaks.join(', ')}`}`);
    if (leaks.length > 0) {
      console.log(`PHI canary: logs kept in ${logDir}`);
      process.exitCode = 1;
    } else {
      await rm(logDir, { recursive: true, force: true });
    }
  };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const path = join(dir, name);
    if ((await stat(path)).isDirectory()) out.push(...await listFiles(path));
    else out.push(path);
  }
  return out;
}
