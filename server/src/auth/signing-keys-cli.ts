import { parseArgs } from 'node:util';
import type { RelayStore } from '../store/relay-store.js';
import { kidOf, newSigningJwk } from './signing-keys.js';

export interface KeysCommandIo {
  /** The relay's store (its clock stamps the rows). */
  store: RelayStore;
  /** The longest a token lives (access and upload tokens, auth.*Seconds): how long a retired key must go on verifying. */
  longestTokenSeconds: number;
  now?: () => Date;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Margin over the longest token life: the clock tolerance of verification, and relays whose clocks differ a little. */
const RETIRE_MARGIN_SECONDS = 300;

const USAGE = `usage: relaypacs-relay keys COMMAND
  list                        the JWT signing keys: kid, created, retired, verifies until (never key material)
  rotate [--verify-for SECS]  a new key signs from now on, on every relay within a minute; the old one
                              verifies the tokens it signed for SECS more (default: the longest token life
                              + 5 minutes), then is deleted. Nobody is signed out.
`;

/**
 * `relaypacs-relay keys ...`: the JWT signing keys shared by the relays (auth/signing-keys.ts).
 * Rotate on a schedule, or at once when a key may have leaked: then add --verify-for 0, which
 * ends every token it signed (their holders sign in again).
 */
export async function runKeysCommand(args: string[], io: KeysCommandIo): Promise<number> {
  const [command, ...rest] = args;
  const now = io.now ?? (() => new Date());
  if (command === 'list' && rest.length === 0) {
    const keys = await io.store.signingKeys.all();
    io.stdout.write('kid                                          created                   retired                   verifies until\n');
    for (const key of keys) {
      const kid = await kidOf(key.jwk);
      io.stdout.write(`${kid.padEnd(44)} ${key.createdAt.padEnd(25)} ${(key.retiredAt ?? '-').padEnd(25)} ${key.verifyUntil ?? (key.retiredAt ? '-' : 'signing')}\n`);
    }
    return 0;
  }
  if (command === 'rotate') {
    let verifyFor = io.longestTokenSeconds + RETIRE_MARGIN_SECONDS;
    try {
      const { values } = parseArgs({ args: rest, options: { 'verify-for': { type: 'string' } }, strict: true, allowPositionals: false });
      if (values['verify-for'] !== undefined) {
        verifyFor = Number(values['verify-for']);
        if (!Number.isInteger(verifyFor) || verifyFor < 0) throw new Error('--verify-for takes a whole number of seconds');
      }
    } catch (error) {
      io.stderr.write(`relaypacs-relay keys: ${(error as Error).message}\n${USAGE}`);
      return 2;
    }
    const at = now();
    const jwk = await newSigningJwk();
    await io.store.signingKeys.rotate(jwk, new Date(at.getTime() + verifyFor * 1000).toISOString());
    const pruned = await io.store.signingKeys.prune(at.toISOString());
    await io.store.audit.record({ action: 'signing-key-rotate', outcome: 'success', target: await kidOf(jwk), address: 'cli' });
    io.stdout.write(`new signing key ${await kidOf(jwk)}; the previous one verifies for ${verifyFor} s more${pruned > 0 ? `; ${pruned} expired key(s) deleted` : ''}\n`);
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    io.stdout.write(USAGE);
    return 0;
  }
  io.stderr.write(`relaypacs-relay keys: ${command === undefined ? 'a command is required' : `unknown command "${[command, ...rest].join(' ')}"`}\n${USAGE}`);
  return 2;
}
