// The shell's policy source reads the real loaders: here a JSON policy file named by
// RELAYPACS_POLICY_FILE (on Linux the machine store is /etc/relaypacs/policy.json, absent in tests).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { machinePolicySource } from '../../src/main/machine-policy.js';

let dir: string | undefined;
const saved = process.env.RELAYPACS_POLICY_FILE;
afterEach(async () => {
  if (saved === undefined) delete process.env.RELAYPACS_POLICY_FILE;
  else process.env.RELAYPACS_POLICY_FILE = saved;
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('locks what the policy file sets, with its values, and logs a bad key without unlocking it', async () => {
  dir = await mkdtemp(join(tmpdir(), 'relaypacs-policy-'));
  process.env.RELAYPACS_POLICY_FILE = join(dir, 'policy.json');
  await writeFile(process.env.RELAYPACS_POLICY_FILE, JSON.stringify({ relayUrl: 'https://relay.hospital.example:8780', routineWindows: ['20:00-07:00'], startAtLogin: 'sometimes' }));
  const log: string[] = [];
  const policy = await machinePolicySource((line) => log.push(line)).load();
  expect(policy.locked).toMatchObject({ relayUrl: true, routineWindows: true, startAtLogin: true });
  expect(policy.locked.maxBytesPerSecond).toBeUndefined();
  expect(policy.values).toMatchObject({ relayUrl: 'https://relay.hospital.example:8780', routineWindows: ['20:00-07:00'] });
  expect(policy.values?.startAtLogin).toBeUndefined();
  expect(log.join('\n')).toMatch(/IT policy: .*startAtLogin/);
});

it('locks nothing on a machine without policy', async () => {
  delete process.env.RELAYPACS_POLICY_FILE;
  const policy = await machinePolicySource(() => {}).load();
  expect(policy.locked).toEqual({});
});
