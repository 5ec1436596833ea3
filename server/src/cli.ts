// relaypacs-relay: runs the relay, or manages its users (`relaypacs-relay user ...`) and signing keys (`keys ...`).
import { parseArgs } from 'node:util';
import { runKeysCommand } from './auth/signing-keys-cli.js';
import { runUserCommand } from './auth/user-cli.js';
import { describeBackends, openRelayStore } from './relay-backends.js';
import { ConfigError, loadRelayConfig, type ConfigSources } from './config/relay-config.js';
import { startIdleMemoryRelease } from './ops/idle-memory-release.js';
import { startRelayServer } from './server.js';
import { mkdir } from 'node:fs/promises';

const USAGE = `Usage:
  relaypacs-relay [--port N] [--host ADDR] [--data DIR] [--config FILE] [--stow-url URL] [--log-file PATH]
                  [--database-url postgres://...] [--storage-url s3://BUCKET/PREFIX?endpoint=URL&region=R]
      Runs the relay. Environment: RELAYPACS_PORT, RELAYPACS_HOST, RELAYPACS_DATA, RELAYPACS_CONFIG,
      RELAYPACS_STOW_URL, RELAYPACS_LOG_LEVEL, RELAYPACS_LOG_FILE, RELAYPACS_METRICS_PORT (or off),
      RELAYPACS_DATABASE_URL, RELAYPACS_STORAGE_URL, RELAYPACS_INSTANCE_NAME, RELAYPACS_IDLE_GC=off.
      State: SQLite in DATA/relay.db, or PostgreSQL with --database-url. Chunks: DATA/uploads, or an
      S3-compatible bucket with --storage-url (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
      or the AWS SDK's usual chain). Relays started with the same two URLs form one service behind a
      load balancer.
      Defaults: 127.0.0.1:8780 (metrics on 127.0.0.1:8781), data under
      ~/.local/share/relaypacs/relay, studies delivered to DATA/delivered unless a destination is set.
      Log (JSON, pino, one line per request, never PHI): to stdout when it is not a terminal; on a
      terminal only warnings and errors, readable; with --log-file PATH everything goes to PATH
      (rotated at 10 MiB to PATH.1) and a terminal still shows warnings and errors.
  relaypacs-relay user add NAME --role ROLE [--password-stdin]
  relaypacs-relay user passwd NAME [--password-stdin]
  relaypacs-relay user disable|enable NAME
  relaypacs-relay user totp NAME [--remove]
  relaypacs-relay user list
      Manage relay accounts (same --data, --config and --database-url as the server).
      Roles: admin, radiographer, clinician, radiologist, device.
  relaypacs-relay keys list
  relaypacs-relay keys rotate [--verify-for SECONDS]
      The JWT signing keys every relay shares: after a rotation every relay signs with a new key (at
      once on PostgreSQL, else within a minute); the old key verifies the tokens it signed until they
      expire (nobody is signed out), or for SECONDS (0: at once, when a key may have leaked).`;

/** Splits the server's own flags from a subcommand's arguments. */
function splitArgs(argv: string[]): { flags: NonNullable<ConfigSources['flags']> & { help?: boolean }; rest: string[] } {
  const { values, tokens } = parseArgs({
    args: argv,
    strict: false,
    tokens: true,
    options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, config: { type: 'string' }, 'stow-url': { type: 'string' }, 'log-file': { type: 'string' },
      'database-url': { type: 'string' }, 'storage-url': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const own = new Set(['port', 'host', 'data', 'config', 'stow-url', 'log-file', 'database-url', 'storage-url', 'help']);
  const rest: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option' && own.has(token.name)) continue;
    if (token.kind === 'option') rest.push(token.rawName, ...(token.value === undefined ? [] : [token.value]));
    else if (token.kind === 'positional') rest.push(token.value);
    else rest.push('--');
  }
  const port = typeof values.port === 'string' ? Number(values.port) : undefined;
  if (port !== undefined && !Number.isInteger(port)) throw new ConfigError(`--port must be a number, got "${String(values.port)}"`);
  return {
    flags: {
      ...(port === undefined ? {} : { port }),
      ...(typeof values.host === 'string' ? { host: values.host } : {}),
      ...(typeof values.data === 'string' ? { dataDir: values.data } : {}),
      ...(typeof values.config === 'string' ? { configFile: values.config } : {}),
      ...(typeof values['stow-url'] === 'string' ? { stowUrl: values['stow-url'] } : {}),
      ...(typeof values['log-file'] === 'string' ? { logFile: values['log-file'] } : {}),
      ...(typeof values['database-url'] === 'string' ? { databaseUrl: values['database-url'] } : {}),
      ...(typeof values['storage-url'] === 'string' ? { storageUrl: values['storage-url'] } : {}),
      ...(values.help === true ? { help: true } : {}),
    },
    rest,
  };
}

async function main(argv: string[]): Promise<number> {
  const { flags, rest } = splitArgs(argv);
  if (flags.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const config = loadRelayConfig({ flags });
  const [command, ...commandArgs] = rest;
  if (command === 'user') {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const store = await openRelayStore(config);
    try {
      return await runUserCommand(commandArgs, { store, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
    } finally {
      await store.close();
    }
  }
  if (command === 'keys') {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const store = await openRelayStore(config);
    try {
      return await runKeysCommand(commandArgs, { store, stdout: process.stdout, stderr: process.stderr });
    } finally {
      await store.close();
    }
  }
  if (command !== undefined && command !== 'serve') {
    process.stderr.write(`relaypacs-relay: unknown command "${command}"\n\n${USAGE}\n`);
    return 2;
  }
  const relay = await startRelayServer(config);
  // Memory back to near its start-up level when the relay goes quiet (RELAYPACS_IDLE_GC=off: not).
  const idleRelease = process.env.RELAYPACS_IDLE_GC === 'off' ? undefined : startIdleMemoryRelease();
  process.stderr.write(`relaypacs-relay: listening on ${relay.url}${relay.metricsUrl ? `, metrics on ${relay.metricsUrl}` : ''}, ${describeBackends(config)}${relay.logDescription ? `, ${relay.logDescription}` : ''}\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`relaypacs-relay: ${signal}, finishing requests in flight\n`);
      idleRelease?.stop();
      relay.close().then(resolve, resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  return 0;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
}, (error: unknown) => {
  process.stderr.write(`relaypacs-relay: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = error instanceof ConfigError ? 2 : 1;
});
