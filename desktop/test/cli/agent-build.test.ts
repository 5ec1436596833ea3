// The agent as deployed: bundled by `npm run build:agent` and run by the same bin script, which picks
// the bundle when asked (RELAYPACS_AGENT_BUILD=dist) or when the sources are absent (an installed package).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AGENT_BUNDLE, buildAgent } from '../../../scripts/build-agent.js';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '../../bin/relaypacs.js');

describe('the built agent', () => {
  it('bundles, and the bin runs the bundle: usage, the catalog, and a clear error for a command it does not know', async () => {
    expect(await buildAgent()).toBe(AGENT_BUNDLE);
    const env = { ...process.env, RELAYPACS_AGENT_BUILD: 'dist' };
    const help = await run(process.execPath, [BIN, '--help'], { env });
    expect(help.stdout).toContain('Usage: relaypacs COMMAND');
    const data = await mkdtemp(join(tmpdir(), 'relaypacs-built-agent-'));
    try {
      // The real CLI with its catalog (better-sqlite3 loads from node_modules): not signed in yet.
      await expect(run(process.execPath, [BIN, 'queue', '--json', '--data', data], { env })).rejects.toMatchObject({ stderr: expect.stringContaining('not signed in') });
      await expect(run(process.execPath, [BIN, 'no-such-command'], { env })).rejects.toMatchObject({ code: 2 });
    } finally {
      await rm(data, { recursive: true, force: true });
    }
  }, 60_000);
});
