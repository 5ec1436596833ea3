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
