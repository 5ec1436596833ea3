// The idle GC proposed for server/bin/relaypacs-relay.js (docs/BENCHMARKS.md, "Relay memory"), as a
// module the bench preloads into the relay (NODE_OPTIONS=--import) to measure it before it is applied.
// What the relay grows to under load is V8's heap (the young generation grows to 2 × 64 MiB
// semi-spaces, old space fills with garbage), not malloc, and an idle process runs no GC that would
// shrink it. After a quiet interval (under 1% CPU) that follows work, one memory-reducing full GC
// returns RSS to about its start-up level. RELAYPACS_IDLE_GC=off turns it off.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

if (process.env.RELAYPACS_IDLE_GC !== 'off') {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc');
  const INTERVAL_MS = 10_000;
  let lastCpu = process.cpuUsage();
  let busySinceLastGc = false;
  setInterval(() => {
    const cpu = process.cpuUsage(lastCpu);
    lastCpu = process.cpuUsage();
    const quiet = (cpu.user + cpu.system) / 1000 < INTERVAL_MS * 0.01;
    if (!quiet) busySinceLastGc = true;
    else if (busySinceLastGc) {
      busySinceLastGc = false;
      // 'last-resort' is V8's CollectAllAvailableGarbage: a full GC that also shrinks the young generation.
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
    }
  }, INTERVAL_MS).unref();
}
