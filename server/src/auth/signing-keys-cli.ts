import { parseArgs } from 'node:util';
import type { RelayStore } from '../store/relay-store.js';
import { kidOf, newSigningJwk } from './signing-keys.js';

export interface KeysCommandIo {
  /** The relay's store (its clock stamps the rows). */
  store: RelayStore;
  now?: () => Date;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

const USAGE = `usage: relaypacs-relay keys COMMAND
  list                        the JWT signing keys: kid, created, retired, verifies until (never key material)
  rotate [--verify-for SECS]  a new key signs from now on, on every relay (at once where the relays
                              hear PostgreSQL's notifications, else within a minute); the old one
                              verifies the tokens it signed until they expire (each relay's longest
                              token life + 5 minutes), or for SECS only, then is deleted. Nobody is
                              signed out, unless SECS is 0 (a key that may have leaked).
Every relay must run a version with 'keys' before a key is rotated: an older relay never reloads.
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
    let verifyFor: number | undefined;
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
    const kid = await kidOf(jwk);
    // Without --verify-for the relays judge how long the old key verifies, each by its own token
    // lives: this command's configuration may not be theirs.
    await io.store.signingKeys.rotate(jwk, verifyFor === undefined ? undefined : new Date(at.getTime() + verifyFor * 1000).toISOString());
    // Keys whose own verifyUntil passed; the others are the relays' to prune.
    const pruned = await io.store.signingKeys.prune(at.toISOString(), new Date(0).toISOString());
    await io.store.audit.record({ action: 'signing-key-rotate', outcome: 'success', target: kid, address: 'cli' });
    await io.store.signals.notify('keys', '');
    const previous = verifyFor === undefined ? 'verifies the tokens it signed until they expire' : `verifies for ${verifyFor} s more`;
    io.stdout.write(`new signing key ${kid}; the previous one ${previous}${pruned > 0 ? `; ${pruned} expired key(s) deleted` : ''}\n`);
    return 0;
  }
  if (command === 'help' || command === '--help' || command === '-h') {
    io.stdout.write(USAGE);
    return 0;
  }
  io.stderr.write(`relaypacs-relay keys: ${command === undefined ? 'a command is required' : `unknown command "${[command, ...rest].join(' ')}"`}\n${USAGE}`);
  return 2;
}
