import { readdir, readFile } from 'node:fs/promises';

/**
 * Live processes (zombies excluded: they run nothing and hold nothing but a pid) whose process
 * group is `pgid`, read from /proc. Tests use it to prove a server left nothing running, and the
 * servers to wait until a SIGKILLed group has really gone before reusing its files and ports.
 */
export async function liveProcessGroupMembers(pgid: number): Promise<number[]> {
  const members: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // The command name (field 2) is in parentheses and may hold spaces: fields after it are
    // state, ppid, pgrp.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] !== 'Z' && Number(fields[2]) === pgid) members.push(Number(entry));
  }
  return members;
}

/** Resolves once no live process is left in the group; throws after `timeoutMs`. */
export async function waitForProcessGroupGone(pgid: number, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const members = await liveProcessGroupMembers(pgid);
    if (members.length === 0) return;
    if (Date.now() >= deadline) throw new Error(`${what}: processes ${members.join(', ')} still running ${timeoutMs} ms after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux that matters here). */
const USER_HZ = 100;

/**
 * CPU seconds (user and system) used so far by the process trees rooted at `roots`: each root and
 * all its descendants (a server whose workers are its children: PostgreSQL's backends, which each
 * lead a process group of their own, Swift's workers), with what their reaped children used.
 * Benchmarks subtract two readings to tell which program a workload's CPU went to: on a noisy
 * machine CPU time is steadier than wall time, and says what each engine costs.
 */
export async function cpuSeconds(roots: readonly number[]): Promise<number> {
  const processes: { pid: number; ppid: number; ticks: number }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (stat === undefined) continue;
    // Fields after the parenthesized command name: state (3), ppid (4), ... utime (14), stime,
    // cutime, cstime (17): index = field number - 3.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    processes.push({ pid: Number(entry), ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]) });
  }
  const inTree = new Set(roots);
  // Parents are usually listed before their children, but not always (pids wrap): until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    for (const p of processes) {
      if (!inTree.has(p.pid) && inTree.has(p.ppid)) {
        inTree.add(p.pid);
        changed = true;
      }
    }
  }
  return processes.filter((p) => inTree.has(p.pid)).reduce((sum, p) => sum + p.ticks, 0) / USER_HZ;
}
