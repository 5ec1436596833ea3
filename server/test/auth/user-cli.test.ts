import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyPassword } from '../../src/auth/passwords.js';
import { base32Decode, totpCode } from '../../src/auth/totp.js';
import { runUserCommand } from '../../src/auth/user-cli.js';
import type { UsersStore } from '../../src/store/accounts-store.js';
import { openSqliteRelayStore, type SqliteRelayStore } from '../../src/store/sqlite/sqlite-relay-store.js';

const PASSWORD = 'correct horse battery';

/** A terminal stand-in: what the test writes arrives as keystrokes; raw mode is recorded. */
class FakeTerminal extends PassThrough {
  readonly isTTY = true as const;
  rawModes: boolean[] = [];
  setRawMode(mode: boolean): this {
    this.rawModes.push(mode);
    return this;
  }
}

describe('relaypacs-relay user', () => {
  let dir: string;
  let store: SqliteRelayStore;
  let users: UsersStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'relaypacs-cli-'));
    // As the command line opens it (cli.ts): every commit on disk when it returns.
    store = openSqliteRelayStore(join(dir, 'relay.db'));
    users = store.users;
  });

  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function run(args: string[], stdin: NodeJS.ReadableStream = Readable.from([])) {
    let stdout = '';
    let stderr = '';
    const out = new PassThrough().on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    const err = new PassThrough().on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const code = await runUserCommand(args, { store, stdin, stdout: out, stderr: err });
    return { code, stdout, stderr };
  }
  const pipe = (text: string) => Readable.from([Buffer.from(text)]);

  it('adds a user with a password from stdin, hashed with Argon2id', async () => {
    const result = await run(['add', 'alice', '--role', 'radiographer', '--password-stdin'], pipe(`${PASSWORD}\n`));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('created alice (radiographer)');
    const alice = (await users.findByUsername('alice'));
    expect(alice).toMatchObject({ role: 'radiographer', disabled: false, totpSecret: null });
    expect(alice!.passwordHash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(alice!.passwordHash, PASSWORD)).toBe(true);
    expect(await verifyPassword(alice!.passwordHash, `${PASSWORD}\n`)).toBe(false);
  });

  it('lists users without hashes or secrets', async () => {
    await run(['add', 'alice', '--role', 'admin', '--password-stdin'], pipe(PASSWORD));
    await run(['add', 'bob', '--role', 'device', '--password-stdin'], pipe(PASSWORD));
    await run(['disable', 'bob']);
    const result = await run(['list']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^USERNAME\s+ROLE\s+STATUS\s+TOTP\s+CREATED$/);
    expect(lines[1]).toMatch(/^alice\s+admin\s+enabled\s+no\s+\d{4}-/);
    expect(lines[2]).toMatch(/^bob\s+device\s+disabled\s+no\s+\d{4}-/);
    expect(result.stdout).not.toContain('argon2');
  });

  it('refuses a duplicate name, a short password and a bad name, naming the user', async () => {
    await run(['add', 'alice', '--role', 'admin', '--password-stdin'], pipe(PASSWORD));
    const duplicate = await run(['add', 'ALICE', '--role', 'clinician', '--password-stdin'], pipe(PASSWORD));
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toContain('an account named ALICE already exists');
    const short = await run(['add', 'carol', '--role', 'clinician', '--password-stdin'], pipe('short\n'));
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('the password for carol is too short');
    const badName = await run(['add', 'bad name', '--role', 'clinician', '--password-stdin'], pipe(PASSWORD));
    expect(badName.code).toBe(1);
    expect(badName.stderr).toContain('"bad name" is not a valid user name');
    expect((await users.list()).map((u) => u.username)).toEqual(['alice']);
  });

  it.each([
    [[], 'a command is required'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['add', 'alice', '--password-stdin'], '"add" needs --role ROLE'],
    [['add', 'alice', '--role', 'janitor', '--password-stdin'], '"janitor" is not a role'],
    [['add', '--role', 'admin', '--password-stdin'], 'takes exactly one user name'],
    [['disable', 'alice', 'bob'], 'takes exactly one user name'],
    [['disable', 'alice', '--role', 'admin'], '"disable" does not take --role'],
    [['list', '--verbose'], "Unknown option '--verbose'"],
  ])('exits 2 with usage for %j', async (args, message) => {
    const result = await run(args, pipe(PASSWORD));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(message);
    expect(result.stderr).toContain('usage: relaypacs-relay user');
    expect((await users.list())).toEqual([]);
  });

  it('refuses to read a password from a non-terminal stdin without --password-stdin', async () => {
    const result = await run(['add', 'alice', '--role', 'admin'], pipe(PASSWORD));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --password-stdin');
    expect(await users.findByUsername('alice')).toBeUndefined();
  });

  it('prompts twice without echo at a terminal', async () => {
    const terminal = new FakeTerminal();
    const pending = run(['add', 'alice', '--role', 'clinician'], terminal);
    terminal.write(`${PASSWORD}x\u007f\r`); // a typo, erased
    await new Promise((resolve) => setImmediate(resolve));
    terminal.write(`${PASSWORD}\r`);
    const result = await pending;
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('New password for alice: ');
    expect(result.stderr).not.toContain(PASSWORD);
    expect(result.stdout).not.toContain(PASSWORD);
    expect(terminal.rawModes).toEqual([true, false, true, false]);
    expect(await verifyPassword((await users.findByUsername('alice'))!.passwordHash, PASSWORD)).toBe(true);
  });

  it('takes both lines of a paste that arrives in one chunk', async () => {
    const terminal = new FakeTerminal();
    const pending = run(['add', 'alice', '--role', 'clinician'], terminal);
    terminal.write(`${PASSWORD}\r\n${PASSWORD}\r\n`);
    expect((await pending).code).toBe(0);
    expect(await verifyPassword((await users.findByUsername('alice'))!.passwordHash, PASSWORD)).toBe(true);
  });

  it('changes nothing when the two typed passwords differ', async () => {
    const terminal = new FakeTerminal();
    const pending = run(['add', 'alice', '--role', 'clinician'], terminal);
    terminal.write(`${PASSWORD}\r`);
    await new Promise((resolve) => setImmediate(resolve));
    terminal.write(`${PASSWORD}!\r`);
    const result = await pending;
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('did not match');
    expect(await users.findByUsername('alice')).toBeUndefined();
  });

  it('passwd sets a new password and ends the account\'s sessions', async () => {
    await run(['add', 'alice', '--role', 'radiographer', '--password-stdin'], pipe(PASSWORD));
    const alice = (await users.findByUsername('alice'))!;
    const { sessions } = store;
    const sessionId = await sessions.create(alice.id, new Date(Date.now() + 3600_000));
    const result = await run(['passwd', 'alice', '--password-stdin'], pipe('an entirely new one\n'));
    expect(result.code).toBe(0);
    const hash = (await users.findByUsername('alice'))!.passwordHash;
    expect(await verifyPassword(hash, 'an entirely new one')).toBe(true);
    expect(await verifyPassword(hash, PASSWORD)).toBe(false);
    expect(await sessions.isActive(sessionId, alice.id)).toBe(false);
    const missing = await run(['passwd', 'nobody', '--password-stdin'], pipe(PASSWORD));
    expect(missing).toMatchObject({ code: 1 });
    expect(missing.stderr).toContain('there is no account named nobody');
  });

  it('disable ends sessions and enable restores sign-in', async () => {
    await run(['add', 'alice', '--role', 'radiographer', '--password-stdin'], pipe(PASSWORD));
    const alice = (await users.findByUsername('alice'))!;
    const { sessions } = store;
    const sessionId = await sessions.create(alice.id, new Date(Date.now() + 3600_000));
    expect((await run(['disable', 'alice'])).code).toBe(0);
    expect((await users.findByUsername('alice'))!.disabled).toBe(true);
    expect((await run(['enable', 'alice'])).code).toBe(0);
    expect((await users.findByUsername('alice'))!.disabled).toBe(false);
    // Enabling does not bring an ended session back.
    expect(await sessions.isActive(sessionId, alice.id)).toBe(false);
    const missing = await run(['disable', 'nobody']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('there is no account named nobody');
  });

  it('totp enrols a secret, prints it once, and --remove takes it away', async () => {
    await run(['add', 'alice', '--role', 'radiologist', '--password-stdin'], pipe(PASSWORD));
    const result = await run(['totp', 'alice']);
    expect(result.code).toBe(0);
    const secret = /^secret: ([A-Z2-7]+)$/m.exec(result.stdout)?.[1];
    const uri = /^uri:\s+(\S+)$/m.exec(result.stdout)?.[1];
    expect(secret).toBeDefined();
    expect((await users.findByUsername('alice'))!.totpSecret).toBe(secret);
    const url = new URL(uri!);
    expect(url.searchParams.get('secret')).toBe(secret);
    expect(url.searchParams.get('issuer')).toBe('RelayPACS');
    expect(decodeURIComponent(url.pathname)).toBe('/RelayPACS:alice');
    expect(totpCode(base32Decode(secret!), new Date())).toMatch(/^\d{6}$/);

    const again = await run(['totp', 'alice']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('alice already has a one-time code enrolled');
    expect((await users.findByUsername('alice'))!.totpSecret).toBe(secret);

    expect(await run(['totp', 'alice', '--remove'])).toMatchObject({ code: 0, stdout: 'removed the one-time code of alice\n' });
    expect((await users.findByUsername('alice'))!.totpSecret).toBeNull();
    expect(await run(['totp', 'alice', '--remove'])).toMatchObject({ code: 0, stdout: 'alice had no one-time code enrolled\n' });
  });

  it('does not enrol one-time codes for device accounts', async () => {
    await run(['add', 'ct-scanner', '--role', 'device', '--password-stdin'], pipe(PASSWORD));
    const result = await run(['totp', 'ct-scanner']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('ct-scanner is a device account');
    expect((await users.findByUsername('ct-scanner'))!.totpSecret).toBeNull();
  });

  it('audits changes as the command line, never with the password', async () => {
    await run(['add', 'alice', '--role', 'admin', '--password-stdin'], pipe(PASSWORD));
    await run(['passwd', 'alice', '--password-stdin'], pipe('an entirely new one'));
    await run(['disable', 'alice']);
    const rows = await store.audit.recent();
    expect(rows.map((r) => [r.action, r.target, r.outcome, r.address, r.actor_user_id])).toEqual([
      ['user-disable', 'alice', 'success', 'cli', null],
      ['user-passwd', 'alice', 'success', 'cli', null],
      ['user-add', 'alice', 'success', 'cli', null],
    ]);
    const everything = JSON.stringify(store.database.prepare('SELECT * FROM audit_log').all());
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain('an entirely new one');
  });
});
