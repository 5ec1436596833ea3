// `relaypacs settings` and the settings part of `relaypacs status`, as a child process on its own data
// folder. Neither needs a sign-in (nor a keychain): settings live in the agent's catalog.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNodeProgram, type ProgramResult } from '@relaypacs/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

const AGENT = join(import.meta.dirname, '../../bin/relaypacs.js');
let workDir: string;

function agent(args: string[]): Promise<ProgramResult> {
  return runNodeProgram(AGENT, args, { env: { ...process.env, RELAYPACS_AGENT_DATA: join(workDir, 'agent') } });
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-cli-settings-'));
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

it('changes the bandwidth cap and routine windows, prints them, and keeps them', async () => {
  const defaults = await agent(['settings', '--json']);
  expect(defaults.code, defaults.stderr).toBe(0);
  expect(JSON.parse(defaults.stdout)).toMatchObject({ maxBytesPerSecond: null, maxRate: 'off', routineWindows: [], routineWindowOpen: true });

  const set = await agent(['settings', '--max-rate', '4MB/s', '--routine-window', '20:00-07:00,12:00-13:00', '--json']);
  expect(set.code, set.stderr).toBe(0);
  expect(JSON.parse(set.stdout)).toMatchObject({ maxBytesPerSecond: 4_000_000, maxRate: '4 MB/s', routineWindows: ['20:00-07:00', '12:00-13:00'] });

  const text = await agent(['settings']);
  expect(text.stdout).toMatch(/^bandwidth cap: 4 MB\/s$/m);
  expect(text.stdout).toMatch(/^routine window: 20:00-07:00, 12:00-13:00 local time: routine studies are sent between 20:00 and 07:00 or between 12:00 and 13:00 \((open|closed) now\); STAT studies always go$/m);

  const status = await agent(['status', '--json']);
  expect(status.code, status.stderr).toBe(0);
  expect(JSON.parse(status.stdout)).toMatchObject({ session: null, relay: null, settings: { maxRate: '4 MB/s', routineWindows: ['20:00-07:00', '12:00-13:00'] } });
}, 60_000);

it('refuses a bad value with what to write instead, changing nothing', async () => {
  const before = (await agent(['settings', '--json'])).stdout;
  const bad = await agent(['settings', '--max-rate', '2MB/s', '--routine-window', '8pm-7am']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toMatch(/routine window: "8pm" in "8pm-7am" is not a time of day: write HH:MM in 24-hour local time/);
  // The good value given with it was not applied either.
  expect((await agent(['settings', '--json'])).stdout).toBe(before);
  const ambiguous = await agent(['settings', '--max-rate', '4Mb/s']);
  expect(ambiguous.code).toBe(2);
  expect(ambiguous.stderr).toMatch(/"4Mb\/s" is ambiguous: write 4MB\/s for bytes or 4Mbit\/s for bits/);
  const off = await agent(['settings', '--max-rate', 'off', '--routine-window', 'off', '--json']);
  expect(JSON.parse(off.stdout)).toMatchObject({ maxBytesPerSecond: null, routineWindows: [] });
}, 60_000);
