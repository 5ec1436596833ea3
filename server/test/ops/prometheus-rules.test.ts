// Monitoring as IT runs it, checked with the tools IT has: Debian's prometheus package brings
// promtool, which lints the relay's /metrics, checks the alerting rules shipped in
// docs/deploy/prometheus and runs their unit tests.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { generateStudy } from '@relaypacs/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, type TestRelay } from '../support/test-relay.js';
import { allDelivered, sendStudy, waitForStatus } from '../support/upload-flow.js';

const run = promisify(execFile);
const RULES = join(import.meta.dirname, '../../../docs/deploy/prometheus');

let relay: TestRelay;
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-prometheus-'));
  relay = await startTestRelay({
    destinations: [{ name: 'archive', kind: 'folder', directory: join(workDir, 'archive') }],
    metrics: { facilities: ['east-wing'] },
  }, { deliver: true });
}, 60_000);
afterAll(async () => {
  await relay?.close();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

/** promtool check metrics reads the exposition on standard input; answers its exit code and what it said. */
function checkMetrics(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

describe('Prometheus', () => {
  it('the alerting rules pass promtool check rules and their unit tests', async () => {
    const checked = await run('promtool', ['check', 'rules', 'relaypacs-alerts.yml'], { cwd: RULES });
    expect(checked.stdout).toContain('SUCCESS: 5 rules found');
    const tested = await run('promtool', ['test', 'rules', 'relaypacs-alerts.test.yml'], { cwd: RULES });
    expect(tested.stdout).toContain('SUCCESS');
  });

  it('the relay\'s /metrics passes promtool check metrics, with the study metrics after a real upload', async () => {
    const token = await relay.tokenFor('radiographer', 'metrics-sender');
    const study = await generateStudy(join(workDir, 'study'), { instances: 2, rows: 16, columns: 16, modality: 'CT' });
    const sent = await sendStudy(relay, study, { facility: 'east-wing' }, token);
    await waitForStatus(relay, sent, allDelivered, 30_000);
    let text = '';
    await expect.poll(async () => {
      text = await (await fetch(`${relay.metricsUrl}/metrics`)).text();
      return text;
    }, { timeout: 10_000 }).toMatch(/relaypacs_studies_total\{outcome="delivered",modality="CT",facility="east-wing"\} 1/);
    expect(text).toMatch(/relaypacs_study_time_to_pacs_seconds_count\{destination="archive",service_level="ROUTINE"\} 1/);
    expect(text).toMatch(/relaypacs_delivery_oldest_queued_seconds\{destination="archive"\} 0/);
    const lint = await checkMetrics(text);
    expect(lint.output).toBe('');
    expect(lint.code).toBe(0);
  }, 60_000);
});
