// Benchmark: this checkout's relay against an earlier commit's relay, side by side in one run, so a
// refactoring of the relay can show it costs nothing ("within noise of the commit before").
// One Orthanc, one agent (this checkout's, compiled) for both; the earlier commit is checked out into
// a temporary git worktree and its relay compiled there. Per run, the two relays take turns (which
// goes first alternates), each study is removed from Orthanc after it is delivered, and every run
// sends new studies, so each relay stores the same work. Workloads as in run-all.ts:
//   ct     a CT study (400 × 512×512 16-bit; --short: 40 × 256²)
//   small  2,000 small instances (--short: 200)
//   large  one 1.2 GB multi-frame instance (--short: 64 MiB), each run through a fresh relay, whose
//          peak RSS (VmHWM) is reported beside the time
// Reports medians per relay and this/earlier ratios (below 1: this checkout is faster or smaller).
//   npm run bench:compare -- --base REV [--runs 5] [--short] [--only ct,small,large]
// Results: bench/results/relay-compare.json (--short: relay-compare-short.json).
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateStudy, type GeneratedStudy } from '@relaypacs/testkit';
import { BenchWorld, median, round, vmHwmBytes, type BenchRelay } from './bench-world.js';
import { buildForBench } from './builds.js';

const { values } = parseArgs({ options: { base: { type: 'string' }, runs: { type: 'string' }, short: { type: 'boolean' }, only: { type: 'string' } } });
if (!values.base) throw new Error('--base REV: the commit to compare with (e.g. main~3 or a commit id)');
const short = values.short === true;
const runs = Number(values.runs ?? (short ? 1 : 5));
if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs: 1 to 20');
const WORKLOADS = ['ct', 'small', 'large'] as const;
type Workload = (typeof WORKLOADS)[number];
const only = (values.only?.split(',').map((w) => w.trim()) ?? [...WORKLOADS]) as Workload[];
const unknown = only.filter((w) => !WORKLOADS.includes(w));
if (unknown.length > 0) throw new Error(`--only: unknown workload ${unknown.join(', ')} (known: ${WORKLOADS.join(', ')})`);

const ROOT = join(import.meta.dirname, '..');
const log = (message: string) => console.error(`bench compare: ${message}`);
const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
const sizes = short
  ? { ct: { instances: 40, rows: 256, columns: 256 }, small: { instances: 200, rows: 64, columns: 64 }, largeFrames: 32 }
  : { ct: { instances: 400, rows: 512, columns: 512 }, small: { instances: 2000, rows: 64, columns: 64 }, largeFrames: 573 };

const baseCommit = git('rev-parse', '--verify', `${values.base}^{commit}`);
const headCommit = git('rev-parse', 'HEAD');
const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';

/**
 * The earlier commit's relay, compiled in a worktree of its own. Its node_modules is a copy of this
 * checkout's (the workspace links in it are relative, so they resolve to the worktree's packages).
 */
async function prepareBase(dir: string): Promise<string> {
  const tree = join(dir, 'tree');
  git('worktree', 'add', '--detach', tree, baseCommit);
  await cp(join(ROOT, 'node_modules'), join(tree, 'node_modules'), { recursive: true, verbatimSymlinks: true });
  execFileSync('npm', ['run', '--silent', 'build', '-w', '@relaypacs/relay'], { cwd: tree, stdio: 'inherit' });
  return join(tree, 'server/bin/relaypacs-relay.js');
}

const { relayBuild, agentEnv, relayEnv } = await buildForBench(log);
if (relayBuild !== 'dist') throw new Error('this checkout\'s relay did not build: nothing to compare');
const baseDir = await mkdtemp(join(tmpdir(), 'relaypacs-bench-base-'));
let world: BenchWorld | undefined;
const relays: BenchRelay[] = [];
try {
  log(`building the relay of ${baseCommit.slice(0, 12)} in ${baseDir}...`);
  const baseBin = await prepareBase(baseDir);
  const sides = [{ name: 'this', bin: undefined }, { name: 'base', bin: baseBin }] as const;
  world = await BenchWorld.start('compare', agentEnv);
  const startRelay = async (side: (typeof sides)[number], label: string) => {
    const relay = await world!.startRelay(`${side.name}-${label}`, { RELAYPACS_RELAY_BUILD: 'dist', ...relayEnv }, side.bin);
    relays.push(relay);
    return relay;
  };
  const stopRelay = async (relay: BenchRelay) => {
    await relay.process.stop();
    relays.splice(relays.indexOf(relay), 1);
  };

  /** Per run: a new study, through each relay in turn (alternating which goes first). */
  async function timed(name: Workload, newStudy: (dir: string) => Promise<GeneratedStudy>, freshRelayEachRun: boolean) {
    const shared = freshRelayEachRun ? undefined : { this: await startRelay(sides[0], name), base: await startRelay(sides[1], name) };
    const times = { this: [] as number[], base: [] as number[] };
    const peaks = { this: [] as number[], base: [] as number[] };
    for (let r = 0; r < runs; r++) {
      const dir = join(world!.workDir, `${name}-${r}`);
      const study = await newStudy(dir);
      const order = r % 2 === 0 ? sides : [sides[1], sides[0]] as const;
      for (const side of order) {
        const relay = shared?.[side.name] ?? await startRelay(side, `${name}-${r}`);
        const { seconds } = await world!.agentUpload(study, dir, relay.url);
        times[side.name].push(seconds);
        if (!shared) {
          peaks[side.name].push(await vmHwmBytes(relay.process.pid!));
          await stopRelay(relay);
        }
        await world!.deleteStudy(study);
      }
      await rm(dir, { recursive: true, force: true });
      log(`${name} run ${r + 1}/${runs}: this ${times.this.at(-1)!.toFixed(2)} s, base ${times.base.at(-1)!.toFixed(2)} s`);
    }
    if (shared) for (const relay of [shared.this, shared.base]) await stopRelay(relay);
    const result: Record<string, unknown> = {
      runs, seconds: { this: times.this.map((t) => round(t)), base: times.base.map((t) => round(t)) },
      medianSeconds: { this: round(median(times.this)), base: round(median(times.base)) },
      ratioThisToBase: round(median(times.this) / median(times.base), 3),
    };
    if (!shared) {
      result.medianRelayPeakRssMiB = { this: round(median(peaks.this) / 1024 ** 2, 1), base: round(median(peaks.base) / 1024 ** 2, 1) };
      result.rssRatioThisToBase = round(median(peaks.this) / median(peaks.base), 3);
    }
    return result;
  }

  const results: Record<string, unknown> = {};
  for (const workload of only) {
    if (workload === 'large') {
      results.large = await timed('large', (dir) => generateStudy(dir, { instances: 1, rows: 1024, columns: 1024, frames: sizes.largeFrames }), true);
    } else {
      results[workload] = await timed(workload, (dir) => generateStudy(dir, { ...sizes[workload], series: 2 }), false);
    }
  }
  const report = {
    date: new Date().toISOString(), short, this: { commit: headCommit, uncommittedChanges: dirty }, base: { commit: baseCommit }, ...results,
  };
  console.log(JSON.stringify(report, null, 2));
  const resultsDir = join(import.meta.dirname, 'results');
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, short ? 'relay-compare-short.json' : 'relay-compare.json'), `${JSON.stringify(report, null, 2)}\n`);
} finally {
  for (const relay of relays) await relay.process.stop();
  await world?.stop();
  try {
    git('worktree', 'remove', '--force', join(baseDir, 'tree'));
  } catch {
    // Not created (the build of this checkout failed first): nothing to remove.
  }
  await rm(baseDir, { recursive: true, force: true });
}
