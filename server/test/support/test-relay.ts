// A real relay for HTTP tests: its own data directory, a controllable clock, the app listening on a
// free loopback port, and helpers that speak to it with fetch.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../src/app.js';
import type { Destination } from '../../src/forward/destination.js';
import { hashPassword } from '../../src/auth/passwords.js';
import type { Role } from '../../src/auth/roles.js';
import { parseRelayConfig } from '../../src/config/relay-config.js';
import type { TokenResponse } from '../../src/protocol/auth-protocol.js';
import { startMetricsListener, type MetricsListener } from '../../src/ops/metrics-listener.js';
import { createRelayServices, type RelayServices } from '../../src/relay-services.js';
import type { RelayDatabase } from '../../src/store/sqlite/database.js';
import type { SqliteRelayStore } from '../../src/store/sqlite/sqlite-relay-store.js';

export const PASSWORD = 'correct horse battery';
/** Ten seconds into a TOTP step, so a test's codes never straddle a step boundary by accident. */
export const TEST_EPOCH = new Date('2030-01-01T08:00:10Z');

export interface TestRelay {
  url: string;
  /** GET /metrics lives on its own listener (ops/metrics-listener.ts), here on a free loopback port. */
  metricsUrl: string;
  dataDir: string;
  services: RelayServices;
  /** The relay's SQLite connection, for tests that look into the database (the services see only the store interfaces). */
  db: RelayDatabase;
  app: FastifyInstance;
  /** Moves the relay's clock (tokens, sessions, rate limits, TOTP, upload expiry) forward. */
  advance(seconds: number): void;
  now(): Date;
  addUser(username: string, role: Role, options?: { password?: string; totpSecret?: string; disabled?: boolean }): Promise<number>;
  /** An access token for a new user with `role`, issued directly rather than through /auth/login. */
  tokenFor(role: Role, username?: string): Promise<string>;
  post(path: string, body: unknown, token?: string): Promise<Response>;
  get(path: string, token?: string): Promise<Response>;
  login(username: string, password?: string, totp?: string): Promise<TokenResponse>;
  close(): Promise<void>;
}

export interface TestRelayOptions {
  /** Start on this data directory (a relay restarted on its data); not removed at close. */
  dataDir?: string;
  /** Leave the data directory at close (to start again on it). */
  keepDataDir?: boolean;
  startAt?: Date;
  /** Start the delivery queue (forwarding tests); off by default so upload tests see their data. */
  deliver?: boolean;
  /** Let the clock run in real time (on with `deliver`: retries wait for it); else it only moves by advance(). */
  realTime?: boolean;
  destinations?: Destination[];
  /** Called with the built app before it listens (to add a hook a test observes). */
  beforeListen?: (app: FastifyInstance) => void;
}

export async function startTestRelay(config: Record<string, unknown> = {}, options: TestRelayOptions = {}): Promise<TestRelay> {
  // A data directory given is another relay's, started again: kept at close, its owner removes it.
  const dataDir = options.dataDir ?? await mkdtemp(join(tmpdir(), 'relaypacs-relay-test-'));
  // The clock starts at startAt, runs in real time if asked, and advance() jumps it forward.
  const realStart = Date.now();
  const ticking = options.realTime ?? options.deliver ?? false;
  let ms = (options.startAt ?? TEST_EPOCH).getTime();
  const now = () => new Date(ms + (ticking ? Date.now() - realStart : 0));
  let services;
  try {
    services = await createRelayServices(parseRelayConfig({ dataDir, port: 0, ...config }), { now, ...(options.destinations ? { destinations: options.destinations } : {}) });
  } catch (error) {
    // A relay that could not start leaves nothing behind: its own data directory goes.
    if (!options.dataDir && !options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const app = await buildApp(services);
  options.beforeListen?.(app);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const metrics: MetricsListener = await startMetricsListener(services, '127.0.0.1', 0);
  if (options.deliver) await services.deliveries.start();
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the relay is not listening on TCP');
  const url = `http://127.0.0.1:${address.port}`;
  let userCount = 0;

  const request = (method: string, path: string, body: unknown, token?: string) => fetch(url + path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

  const relay: TestRelay = {
    url, metricsUrl: metrics.url, dataDir, services, app, now, db: (services.store as SqliteRelayStore).database,
    advance(seconds) {
      ms += seconds * 1000;
    },
    async addUser(username, role, userOptions = {}) {
      const { users } = services.store;
      const user = await users.create(username, role, await hashPassword(userOptions.password ?? PASSWORD));
      if (userOptions.totpSecret) await users.setTotpSecret(user.id, userOptions.totpSecret);
      if (userOptions.disabled) await users.setDisabled(user.id, true);
      return user.id;
    },
    async tokenFor(role, username) {
      const name = username ?? `${role}-${++userCount}`;
      const userId = await relay.addUser(name, role);
      const sessionId = await services.store.sessions.create(userId, new Date(now().getTime() + 3600_000));
      return (await services.tokens.issueAccessToken({ userId, username: name, role, sessionId })).token;
    },
    post: (path, body, token) => request('POST', path, body, token),
    get: (path, token) => request('GET', path, undefined, token),
    async login(username, password = PASSWORD, totp) {
      const response = await relay.post('/auth/login', { username, password, ...(totp ? { totp } : {}) });
      if (response.status !== 200) throw new Error(`login of ${username} answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as TokenResponse;
    },
    async close() {
      await metrics.close();
      await app.close();
      await services.close();
      if (!options.dataDir && !options.keepDataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
  return relay;
}

/** The `error.code` of a relay error response. */
export async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code;
}
