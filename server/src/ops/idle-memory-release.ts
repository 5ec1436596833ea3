import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface IdleMemoryReleaseOptions {
  /** How often CPU use is looked at; a whole interval under `quietCpuFraction` counts as quiet. */
  intervalMs?: number;
  quietCpuFraction?: number;
  /** Told after each collection (logs, tests). */
  onCollected?: () => void;
}

type GcFunction = (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;

/**
 * Gives memory back once the relay goes quiet after work. Measured over 50,000 instances
 * (docs/BENCHMARKS.md, "Relay memory"): what the relay grows to under load is V8's heap (the young
 * generation grows to 2 × 64 MiB semi-spaces, old space fills with garbage; 389 MiB RSS for 43 MiB
 * live), not malloc fragmentation, and an idle process runs no GC that would shrink it. So after the
 * first quiet interval that follows work, one memory-reducing full GC runs: RSS comes back to within
 * a few MiB of its start-up level. A plain gc() does not shrink the young generation; the
 * 'last-resort' flavour (V8's CollectAllAvailableGarbage) does. It runs only when nothing is
 * happening, so its pause (tens of milliseconds) is not felt. The peak itself is bounded by starting
 * Node with --max-semi-space-size=8 (the deploy units do).
 */
export function startIdleMemoryRelease(options: IdleMemoryReleaseOptions = {}): { stop(): void } {
  const intervalMs = options.intervalMs ?? 10_000;
  const quietCpuFraction = options.quietCpuFraction ?? 0.01;
  // --expose-gc at run time: the gc function then exists in contexts created afterwards.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as GcFunction;
  let lastCpu = process.cpuUsage();
  let busySinceLastGc = false;
  const timer = setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    const quiet = (cpu.user + cpu.system) / 1000 < intervalMs * quietCpuFraction;
    if (!quiet) {
      busySinceLastGc = true;
    } else if (busySinceLastGc) {
      busySinceLastGc = false;
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
      // The collection's own CPU time is not work: it must not count the next interval as busy.
      lastCpu = process.cpuUsage();
      options.onCollected?.();
    }
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
