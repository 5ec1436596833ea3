import { parseArgs } from 'node:util';
import { RelayError } from '../http/relay-error.js';
import type { UserSummary } from '../protocol/auth-protocol.js';
import type { RelayStore } from '../store/relay-store.js';
import { isTerminal, PasswordInputError, promptNewPassword, readPasswordFromStdin } from './password-input.js';
import { isRole, ROLES } from './roles.js';
import { UserAccounts, type AdminActor } from './user-accounts.js';

export interface UserCommandIo {
  /** The relay's store (its clock stamps the rows). */
  store: RelayStore;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Exit codes: 0 done, 1 the command failed (named account, reason), 2 the command line was wrong. */
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

const USAGE = `usage: relaypacs-relay user COMMAND
  add NAME --role ROLE [--password-stdin]   create an account; ROLE is one of ${ROLES.join(', ')}
  passwd NAME [--password-stdin]            set a new password (ends the account's sessions)
  disable NAME                              refuse its sign-ins and end its sessions
  enable NAME                               allow its sign-ins again
  totp NAME                                 enrol a one-time code; prints the otpauth URI and secret
  totp NAME --remove                        stop asking it for one-time codes
  list                                      list accounts
Without --password-stdin the password is asked for twice at the terminal, without echo.
`;

/** Which options and how many names each command takes. */
const COMMANDS: Record<string, { names: 0 | 1; options: readonly string[] }> = {
  add: { names: 1, options: ['role', 'password-stdin'] },
  passwd: { names: 1, options: ['password-stdin'] },
  disable: { names: 1, options: [] },
  enable: { names: 1, options: [] },
  totp: { names: 1, options: ['remove'] },
  list: { names: 0, options: [] },
};

/** The command line's changes are audited like an admin's, with no actor and address 'cli'. */
const CLI_ACTOR: AdminActor = { userId: null, address: 'cli' };

class UsageError extends Error {}

/** `relaypacs-relay user ...`: account administration on the relay host, over the relay's store. */
export async function runUserCommand(args: string[], io: UserCommandIo): Promise<number> {
  const [command, ...rest] = args;
  if (command === 'help' || command === '--help' || command === '-h') {
    io.stdout.write(USAGE);
    return EXIT_OK;
  }
  try {
    if (command === undefined) throw new UsageError('a command is required');
    const spec = COMMANDS[command];
    if (!spec) throw new UsageError(`unknown command "${command}"`);
    const parsed = parseCommandLine(command, rest, spec);
    return await run(command, parsed, io);
  } catch (error) {
    if (error instanceof UsageError || (error instanceof PasswordInputError && error.usage)) {
      io.stderr.write(`relaypacs-relay user: ${error.message}\n${USAGE}`);
      return EXIT_USAGE;
    }
    if (error instanceof RelayError || error instanceof PasswordInputError) {
      io.stderr.write(`relaypacs-relay user ${command}: ${error.message}\n`);
      return EXIT_FAILED;
    }
    io.stderr.write(`relaypacs-relay user ${command}: failed: ${(error as Error).message}\n`);
    return EXIT_FAILED;
  }
}

interface ParsedCommand {
  name: string;
  role?: string;
  passwordStdin: boolean;
  remove: boolean;
}

function parseCommandLine(command: string, rest: string[], spec: { names: 0 | 1; options: readonly string[] }): ParsedCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: { role: { type: 'string' }, 'password-stdin': { type: 'boolean' }, remove: { type: 'boolean' } },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  for (const option of Object.keys(parsed.values)) {
    if (!spec.options.includes(option)) throw new UsageError(`"${command}" does not take --${option}`);
  }
  if (parsed.positionals.length !== spec.names) {
    throw new UsageError(spec.names === 0 ? `"${command}" takes no user name` : `"${command}" takes exactly one user name`);
  }
  return {
    name: parsed.positionals[0] ?? '',
    role: parsed.values.role,
    passwordStdin: parsed.values['password-stdin'] ?? false,
    remove: parsed.values.remove ?? false,
  };
}

async function run(command: string, parsed: ParsedCommand, io: UserCommandIo): Promise<number> {
  const { users } = io.store;
  const accounts = new UserAccounts(io.store);
  const out = (line: string): void => void io.stdout.write(`${line}\n`);
  const { name } = parsed;

  switch (command) {
    case 'add': {
      if (parsed.role === undefined) throw new UsageError('"add" needs --role ROLE');
      if (!isRole(parsed.role)) throw new UsageError(`"${parsed.role}" is not a role; use one of ${ROLES.join(', ')}`);
      // Ask before prompting, so nobody types a password twice only to hear the name is taken.
      if (await users.findByUsername(name)) throw new RelayError(409, 'USER_EXISTS', `an account named ${name} already exists`);
      const user = await accounts.add(name, parsed.role, await newPassword(parsed, io, name), CLI_ACTOR);
      out(`created ${user.username} (${user.role})`);
      return EXIT_OK;
    }
    case 'passwd': {
      if (!(await users.findByUsername(name))) throw new RelayError(404, 'USER_NOT_FOUND', `there is no account named ${name}`);
      await accounts.setPassword(name, await newPassword(parsed, io, name), CLI_ACTOR);
      out(`changed the password of ${name}; its sessions were ended`);
      return EXIT_OK;
    }
    case 'disable':
      out(`disabled ${(await accounts.setDisabled(name, true, CLI_ACTOR)).username}; its sessions were ended`);
      return EXIT_OK;
    case 'enable':
      out(`enabled ${(await accounts.setDisabled(name, false, CLI_ACTOR)).username}`);
      return EXIT_OK;
    case 'totp': {
      if (parsed.remove) {
        out((await accounts.removeTotp(name, CLI_ACTOR)) ? `removed the one-time code of ${name}` : `${name} had no one-time code enrolled`);
        return EXIT_OK;
      }
      const { secret, uri } = await accounts.enrolTotp(name, CLI_ACTOR);
      out(`enrolled a one-time code for ${name}`);
      out(`secret: ${secret}`);
      out(`uri:    ${uri}`);
      out('Add it to an authenticator app (scan the URI as a QR code or type the secret). It is not shown again.');
      return EXIT_OK;
    }
    case 'list':
      writeTable(await accounts.list(), out);
      return EXIT_OK;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function newPassword(parsed: ParsedCommand, io: UserCommandIo, username: string): Promise<string> {
  if (parsed.passwordStdin) return readPasswordFromStdin(io.stdin);
  if (!isTerminal(io.stdin)) {
    // A password read silently from a pipe nobody meant for it would be a surprise; say how instead.
    throw new PasswordInputError('stdin is not a terminal: pass --password-stdin and pipe the password in', true);
  }
  return promptNewPassword(io.stdin, io.stderr, username);
}

function writeTable(users: UserSummary[], out: (line: string) => void): void {
  if (users.length === 0) {
    out('no accounts yet; add one with: relaypacs-relay user add NAME --role admin');
    return;
  }
  const rows = [['USERNAME', 'ROLE', 'STATUS', 'TOTP', 'CREATED'], ...users.map((u) => [
    u.username, u.role, u.disabled ? 'disabled' : 'enabled', u.totpEnrolled ? 'yes' : 'no', u.createdAt,
  ])];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const row of rows) out(row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd());
}
