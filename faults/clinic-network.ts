// A "clinic" network namespace joined to this host by a veth pair, with packet loss (nft numgen
// random drop rules, both directions), a rate limit (tc tbf, both directions) and a cut (drop all).
// Names and the /30 are unique per run; nothing outside the namespace and its veth is touched, and
// no address other than the two ends of the veth is ever used.
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function sh(command: string, args: string[]): Promise<string> {
  return (await run(command, args, { maxBuffer: 4 * 1024 * 1024 })).stdout;
}

/** Whether this process may create namespaces, veths, nft tables and qdiscs (root with the tools present). */
export async function canCreateNamespaces(): Promise<boolean> {
  if (process.getuid?.() !== 0) return false;
  try {
    await sh('ip', ['netns', 'list']);
    await sh('nft', ['--version']);
    await sh('tc', ['-V']);
    return true;
  } catch {
    return false;
  }
}

export class ClinicNetwork {
  private lossPercent = 0;
  private cut = false;

  private constructor(
    readonly namespace: string,
    readonly hostVeth: string,
    readonly clinicVeth: string,
    readonly hostAddress: string,
    readonly clinicAddress: string,
  ) {}

  static async create(): Promise<ClinicNetwork> {
    const tag = randomBytes(3).toString('hex');
    const octet = await freeOctet();
    const net = new ClinicNetwork(`rpf-clinic-${tag}`, `rpfh${tag}`, `rpfc${tag}`, `10.231.${octet}.1`, `10.231.${octet}.2`);
    try {
      await sh('ip', ['netns', 'add', net.namespace]);
      await sh('ip', ['link', 'add', net.hostVeth, 'type', 'veth', 'peer', 'name', net.clinicVeth]);
      await sh('ip', ['link', 'set', net.clinicVeth, 'netns', net.namespace]);
      await sh('ip', ['addr', 'add', `${net.hostAddress}/30`, 'dev', net.hostVeth]);
      await sh('ip', ['link', 'set', net.hostVeth, 'up']);
      await net.inside('ip', ['addr', 'add', `${net.clinicAddress}/30`, 'dev', net.clinicVeth]);
      await net.inside('ip', ['link', 'set', net.clinicVeth, 'up']);
      await net.inside('ip', ['link', 'set', 'lo', 'up']);
      // The fault rules live in the namespace: output = clinic → host, input = host → clinic.
      // Counters before the drops count every byte the clinic side tried to send (retransmits too).
      await net.applyRules();
    } catch (error) {
      await net.destroy();
      throw error;
    }
    return net;
  }

  /** Runs a command inside the clinic namespace. */
  inside(command: string, args: string[]): Promise<string> {
    return sh('ip', ['netns', 'exec', this.namespace, command, ...args]);
  }

  /** argv prefix that runs a program inside the namespace (ip netns exec execs it: same pid). */
  get execPrefix(): string[] {
    return ['ip', 'netns', 'exec', this.namespace];
  }

  private async applyRules(): Promise<void> {
    const drop = this.cut ? 'drop' : this.lossPercent > 0 ? `numgen random mod 100 < ${this.lossPercent} drop` : '';
    const ruleset = `
table inet rpfaults
delete table inet rpfaults
table inet rpfaults {
  chain out { type filter hook output priority 0; policy accept;
    oifname "${this.clinicVeth}" counter name sent
    ${drop ? `oifname "${this.clinicVeth}" ${drop}` : ''}
  }
  chain in { type filter hook input priority 0; policy accept;
    iifname "${this.clinicVeth}" counter name received
    ${drop ? `iifname "${this.clinicVeth}" ${drop}` : ''}
  }
  counter sent { }
  counter received { }
}
`;
    // Counters are kept across rule changes by reading them first and adding back.
    const before = await this.counters().catch(() => ({ sentBytes: 0, receivedBytes: 0 }));
    this.carried.sentBytes += before.sentBytes;
    this.carried.receivedBytes += before.receivedBytes;
    await new Promise<void>((resolve, reject) => {
      const child = execFile('ip', ['netns', 'exec', this.namespace, 'nft', '-f', '-'], (error) => (error ? reject(error) : resolve()));
      child.stdin!.end(ruleset);
    });
  }

  private carried = { sentBytes: 0, receivedBytes: 0 };

  private async counters(): Promise<{ sentBytes: number; receivedBytes: number }> {
    const text = await this.inside('nft', ['-j', 'list', 'counters', 'table', 'inet', 'rpfaults']);
    const parsed = JSON.parse(text) as { nftables: { counter?: { name: string; bytes: number } }[] };
    const get = (name: string) => parsed.nftables.find((e) => e.counter?.name === name)?.counter?.bytes ?? 0;
    return { sentBytes: get('sent'), receivedBytes: get('received') };
  }

  /** Bytes the clinic side has put on (or tried to put on) the link each way since create(). */
  async traffic(): Promise<{ sentBytes: number; receivedBytes: number }> {
    const now = await this.counters();
    return { sentBytes: now.sentBytes + this.carried.sentBytes, receivedBytes: now.receivedBytes + this.carried.receivedBytes };
  }

  async setLoss(percent: number): Promise<void> {
    this.lossPercent = percent;
    await this.applyRules();
  }

  async setCut(cut: boolean): Promise<void> {
    this.cut = cut;
    await this.applyRules();
  }

  /** A token bucket on both ends of the veth: `rate` like "20mbit", or undefined to remove it. */
  async setRate(rate: string | undefined): Promise<void> {
    await sh('tc', ['qdisc', 'del', 'dev', this.hostVeth, 'root']).catch(() => undefined);
    await this.inside('tc', ['qdisc', 'del', 'dev', this.clinicVeth, 'root']).catch(() => undefined);
    if (!rate) return;
    const tbf = ['root', 'tbf', 'rate', rate, 'burst', '64kb', 'latency', '400ms'];
    await sh('tc', ['qdisc', 'add', 'dev', this.hostVeth, ...tbf]);
    await this.inside('tc', ['qdisc', 'add', 'dev', this.clinicVeth, ...tbf]);
  }

  /** Removes the qdiscs, the nft table, the veth pair and the namespace; safe to call twice. */
  async destroy(): Promise<void> {
    await sh('tc', ['qdisc', 'del', 'dev', this.hostVeth, 'root']).catch(() => undefined);
    await this.inside('tc', ['qdisc', 'del', 'dev', this.clinicVeth, 'root']).catch(() => undefined);
    await this.inside('nft', ['delete', 'table', 'inet', 'rpfaults']).catch(() => undefined);
    await sh('ip', ['link', 'del', this.hostVeth]).catch(() => undefined);
    await sh('ip', ['netns', 'del', this.namespace]).catch(() => undefined);
  }
}

/**
 * A 10.231.N.0/30 no interface on this host uses yet. Another run's network (beside this one, or
 * left behind by a run that was killed) on the same N would answer this run's packets with resets:
 * the host's reply to 10.231.N.2 would take the other veth.
 */
async function freeOctet(): Promise<number> {
  const used = new Set([...(await sh('ip', ['-4', '-o', 'addr', 'show'])).matchAll(/inet 10\.231\.(\d+)\./g)].map((m) => Number(m[1])));
  const free = Array.from({ length: 256 }, (_, n) => n).filter((n) => !used.has(n));
  if (free.length === 0) throw new Error('every 10.231.N.0/30 is in use on this host: remove stale rpf-clinic-* namespaces (ip netns list)');
  return free[randomInt(0, free.length)]!;
}
