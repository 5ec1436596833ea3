import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { ANY_SOP_CLASS } from '@relaypacs/dicom';
import { DeliveryConfig, DestinationConfig, RouteConfig } from '../forward/delivery-config.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/**
 * The relay's whole configuration. Every field has an embedded default, so the relay starts with
 * no file at all: SQLite and temporary storage under one data directory, loopback only.
 */
export const RelayConfigSchema = Type.Object({
  host: Type.String({ default: '127.0.0.1' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8780 }),
  dataDir: Type.String({ minLength: 1, default: join(process.env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'relaypacs', 'relay') }),
  logLevel: Type.Union([Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')], { default: 'info' }),
  /**
   * The JSON log goes to this file (rotated at 10 MiB, one previous file kept) instead of stdout; a
   * terminal on stdout then still shows warnings and errors. Unset: JSON lines on stdout, or only
   * warnings and errors, pretty-printed, when stdout is a terminal (server/src/log/relay-log.ts).
   */
  logFile: Type.Optional(Type.String({ minLength: 1 })),
  /**
   * The relay's state in PostgreSQL instead of DATA/relay.db: postgres://USER:PASSWORD@HOST:PORT/DB,
   * with TLS options as node-postgres takes them in the URL (sslmode, sslrootcert...). Relays given
   * the same databaseUrl and storageUrl form one service behind a load balancer (docs/relay.md).
   */
  databaseUrl: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  /**
   * Temporary storage in an S3-compatible object store instead of DATA/uploads:
   * s3://BUCKET/PREFIX?endpoint=URL&region=R&forcePathStyle=true. Credentials come from the AWS
   * SDK's usual chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, an instance role),
   * never from the URL.
   */
  storageUrl: Type.Optional(Type.String({ pattern: '^s3://' })),
  /**
   * Names this relay among those sharing one database, stably across its restarts (the leases on
   * deliveries it sends carry it). Default: the host name and a digest of the data directory, so
   * relays on one host need data directories of their own, or names (RELAYPACS_INSTANCE_NAME).
   */
  instanceName: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
  /** HTTPS when both are given (PEM files). */
  tls: Type.Optional(Type.Object({ keyFile: Type.String(), certFile: Type.String() }, { additionalProperties: false })),
  /** CORS is off unless origins are listed. */
  corsOrigins: Type.Array(Type.String(), { default: [] }),
  auth: Type.Object({
    issuer: Type.String({ default: 'relaypacs-relay' }),
    accessTokenSeconds: Type.Integer({ minimum: 30, maximum: 3600, default: 600 }),
    refreshTokenSeconds: Type.Integer({ minimum: 300, default: 30 * 24 * 3600 }),
    /**
     * A spent refresh token presented again this soon after its rotation, while its successor was never
     * presented, is a lost answer (the client died or the link broke before it stored the successor), not
     * a copy: it rotates again instead of ending the session. 0: any reuse ends the session.
     */
    refreshReuseGraceSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 60 }),
    uploadTokenSeconds: Type.Integer({ minimum: 60, default: 24 * 3600 }),
    /** Failed logins per user name within the window before it is locked for the window. */
    maxFailuresPerUser: Type.Integer({ minimum: 1, default: 5 }),
    /** Login attempts per client address within the window. */
    maxAttemptsPerAddress: Type.Integer({ minimum: 1, default: 30 }),
    rateLimitWindowSeconds: Type.Integer({ minimum: 1, default: 900 }),
  }, { default: {}, additionalProperties: false }),
  /**
   * Limits on every connection, so slow or hostile clients cannot hold the relay (slowloris, bodies
   * that never end). A chunk body in progress is governed by upload.chunkIdleTimeoutSeconds instead:
   * on a slow clinic link a 64 MiB chunk rightly takes minutes.
   */
  http: Type.Object({
    /** A request's complete header must arrive within this long (408 and close otherwise). */
    headersTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 600, default: 10 }),
    /** A request other than a chunk must arrive whole, body included, within this long; the connection is closed otherwise. */
    requestTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
    /** Requests served on one connection before it is closed (0: no limit). */
    maxRequestsPerConnection: Type.Integer({ minimum: 0, default: 10_000 }),
    /** A connection that moves no byte either way for this long is closed (covers every phase). */
    idleConnectionTimeoutSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 120 }),
    /**
     * Open connections per client address; more are closed at once. A clinic behind one NAT address
     * has many workstations, each with up to 32 connections on a lossy link: keep this generous.
     */
    maxConnectionsPerAddress: Type.Integer({ minimum: 1, default: 256 }),
    /** Open connections in all. */
    maxConnections: Type.Integer({ minimum: 1, default: 8192 }),
    /**
     * A refused request's body (401, 403, 404, 409, 413, 415...) is read at most this far, to let the
     * client see the answer, then the connection is closed: it is never drained to its end.
     */
    refusedBodyBytes: Type.Integer({ minimum: 0, maximum: 16 * MiB, default: 64 * 1024 }),
  }, { default: {}, additionalProperties: false }),
  /**
   * GET /metrics (Prometheus). By default on a listener of its own on loopback, the convention for
   * exporters: the relay's public port does not show it. `port: null` turns that listener off.
   * With `bearerTokenFile`, /metrics is also answered on the relay's own port to requests bearing
   * that token (for a Prometheus on another machine, over TLS).
   */
  metrics: Type.Object({
    host: Type.String({ default: '127.0.0.1' }),
    port: Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()], { default: 8781 }),
    bearerTokenFile: Type.Optional(Type.String({ minLength: 1 })),
    /**
     * The facilities (routing tags, upload.facility) that get their own label on relaypacs_studies_total;
     * any other is counted as "other", so a typo in a workstation cannot multiply the series.
     */
    facilities: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { default: [], maxItems: 200 }),
  }, { default: {}, additionalProperties: false }),
  upload: Type.Object({
    minChunkBytes: Type.Integer({ minimum: 1, default: 64 * 1024 }),
    maxChunkBytes: Type.Integer({ minimum: 1, default: 64 * MiB }),
    preferredChunkBytes: Type.Integer({ minimum: 1, default: 8 * MiB }),
    maxInstanceBytes: Type.Integer({ minimum: 1, default: 16 * GiB }),
    maxStudyBytes: Type.Integer({ minimum: 1, default: 256 * GiB }),
    maxInstancesPerUpload: Type.Integer({ minimum: 1, default: 100_000 }),
    maxActiveUploadsPerUser: Type.Integer({ minimum: 1, default: 50 }),
    /** Uploads not completed within this time are abandoned and deleted. */
    expireAfterSeconds: Type.Integer({ minimum: 60, default: 24 * 3600 }),
    cleanupIntervalSeconds: Type.Integer({ minimum: 1, default: 300 }),
    /**
     * New uploads are refused with 507 unless they fit, together with what the uploads already
     * accepted still have to receive, above this much free space in the data directory (or above
     * reserveDiskBytes, whichever is larger).
     */
    minFreeDiskBytes: Type.Integer({ minimum: 0, default: 2 * GiB }),
    /**
     * Kept free for the relay's database (relay.db and its WAL sit in the data directory, beside the
     * uploads): a chunk is refused with 507 when writing it would leave less than this, so the
     * relay's own uploads never take the last bytes SQLite needs to record chunks, verifications and
     * deliveries. It cannot stop another program filling the disk: then SQLite may meet a full disk,
     * which is answered 507 too, and delivery bookkeeping is retried until space returns.
     */
    reserveDiskBytes: Type.Integer({ minimum: 0, default: 256 * MiB }),
    /**
     * An upload that received nothing for this long stops holding the space it still has to
     * receive: one abandoned init (a workstation wiped mid-job) must not refuse everyone else for
     * the day it takes to expire. When it resumes, its chunks compete for space like any other's.
     */
    reservationIdleSeconds: Type.Integer({ minimum: 60, default: 900 }),
    /** A chunk request that sends nothing for this long is abandoned. */
    chunkIdleTimeoutSeconds: Type.Integer({ minimum: 1, default: 60 }),
    /** SOP class UIDs accepted, or "*" for any (the default: whatever the PACS stores). */
    allowedSopClasses: Type.Array(Type.String({ pattern: '^([0-9.]+|\\*)$' }), { default: [ANY_SOP_CLASS] }),
  }, { default: {}, additionalProperties: false }),
  /**
   * Where studies go. None configured: a local folder under the data directory (DATA/delivered),
   * so the relay works out of the box. `stowUrl` (or --stow-url, RELAYPACS_STOW_URL) adds one
   * STOW-RS destination named "pacs".
   */
  destinations: Type.Array(DestinationConfig, { default: [] }),
  stowUrl: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** No routes: every study goes to every destination. */
  routes: Type.Array(RouteConfig, { default: [] }),
  delivery: DeliveryConfig,
  /** Upload events (GET /events). */
  events: Type.Object({
    /** The newest events kept, for clients resuming with Last-Event-ID (a workstation off for a night). */
    retainCount: Type.Integer({ minimum: 100, default: 100_000 }),
    /** How often a relay looks for events kept by the other relays sharing its database. */
    pollMilliseconds: Type.Integer({ minimum: 50, maximum: 60_000, default: 500 }),
  }, { default: {}, additionalProperties: false }),
  /**
   * Report-ready notifications (docs/relay.md, "Reports"): after a study is delivered, the relay
   * looks for the radiologist's report in DICOMweb destinations (QIDO-RS) and Orthanc REST ones
   * (their change feed), and tells the sender.
   */
  reports: Type.Object({
    enabled: Type.Boolean({ default: true }),
    /** A delivered study is first checked after this; the wait doubles while nothing changes, up to maxIntervalSeconds. */
    firstIntervalSeconds: Type.Number({ minimum: 0.1, default: 60 }),
    maxIntervalSeconds: Type.Number({ minimum: 0.1, default: 900 }),
    /** How often an Orthanc change feed is read (one request, however many studies are watched). */
    feedIntervalSeconds: Type.Number({ minimum: 0.1, default: 10 }),
    /** A study is watched this long after its delivery, or until its final report. */
    watchDays: Type.Number({ minimum: 0.0001, default: 14 }),
    /** After the final report, go on looking for amendments (at maxIntervalSeconds) until watchDays. */
    followAmendments: Type.Boolean({ default: false }),
    /** Document titles that make an SR or document a report; default: PS3.16 CID 7000 (reports/report-classification.ts). */
    titles: Type.Optional(Type.Array(Type.Object({ scheme: Type.String({ minLength: 1 }), value: Type.String({ minLength: 1 }) }, { additionalProperties: false }))),
    /** An encapsulated PDF or CDA without a coded title: ignored (a scanned request looks the same), or taken as a report. */
    untitledDocuments: Type.Union([Type.Literal('ignore'), Type.Literal('report')], { default: 'ignore' }),
    /** A report's content is kept this long for GET /reports/{id}/content, then dropped (its record stays). */
    keepContentDays: Type.Number({ minimum: 0, default: 30 }),
    /** Larger documents are not fetched. */
    maxContentBytes: Type.Integer({ minimum: 1024, default: 32 * 1024 * 1024 }),
    /** Roles that read every report, besides the sender of the study and admins (e.g. ["radiologist"]). */
    readerRoles: Type.Array(Type.Union([Type.Literal('radiologist'), Type.Literal('clinician'), Type.Literal('radiographer')]), { default: [] }),
    /** Reports from a RIS as HL7 v2 ORU^R01 over MLLP (reports/hl7); off unless a port is given. */
    hl7: Type.Object({
      host: Type.String({ default: '127.0.0.1' }),
      port: Type.Union([Type.Integer({ minimum: 0, maximum: 65535 }), Type.Null()], { default: null }),
      maxMessageBytes: Type.Integer({ minimum: 1024, default: 1024 * 1024 }),
      idleTimeoutSeconds: Type.Number({ minimum: 1, default: 120 }),
      maxConnections: Type.Integer({ minimum: 1, default: 16 }),
      /** Match messages without a Study Instance UID by accession number (unique within one RIS only). */
      matchAccessionNumbers: Type.Boolean({ default: false }),
      /** Client addresses allowed to connect (the RIS's interface engine); empty: any that reaches the bound address. */
      allowFrom: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
    }, { default: {}, additionalProperties: false }),
  }, { default: {}, additionalProperties: false }),
}, { additionalProperties: false });

export type RelayConfig = Static<typeof RelayConfigSchema>;

export class ConfigError extends Error {}

export interface ConfigSources {
  /** Parsed command-line flags (already named like config fields). */
  flags?: { port?: number; host?: string; dataDir?: string; configFile?: string; stowUrl?: string; logFile?: string; databaseUrl?: string; storageUrl?: string };
  env?: NodeJS.ProcessEnv;
}

/**
 * Configuration precedence: command-line flags, then RELAYPACS_* environment variables, then the
 * config file, then embedded defaults. The result is validated against the schema; an invalid
 * value stops the relay with the field and the reason.
 */
export function loadRelayConfig(sources: ConfigSources = {}): RelayConfig {
  const env = sources.env ?? process.env;
  const configFile = sources.flags?.configFile ?? env.RELAYPACS_CONFIG;
  let fromFile: Record<string, unknown> = {};
  if (configFile) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (error) {
      throw new ConfigError(`cannot read config file ${configFile}: ${(error as Error).message}`);
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (error) {
      throw new ConfigError(`config file ${configFile} is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) throw new ConfigError(`config file ${configFile} must hold a JSON object`);
  }
  const merged: Record<string, unknown> = { ...fromFile };
  const envPort = env.RELAYPACS_PORT;
  if (envPort !== undefined) merged.port = Number(envPort);
  if (env.RELAYPACS_HOST) merged.host = env.RELAYPACS_HOST;
  if (env.RELAYPACS_DATA) merged.dataDir = env.RELAYPACS_DATA;
  if (env.RELAYPACS_LOG_LEVEL) merged.logLevel = env.RELAYPACS_LOG_LEVEL;
  if (env.RELAYPACS_LOG_FILE) merged.logFile = env.RELAYPACS_LOG_FILE;
  if (env.RELAYPACS_STOW_URL) merged.stowUrl = env.RELAYPACS_STOW_URL;
  if (env.RELAYPACS_DATABASE_URL) merged.databaseUrl = env.RELAYPACS_DATABASE_URL;
  if (env.RELAYPACS_STORAGE_URL) merged.storageUrl = env.RELAYPACS_STORAGE_URL;
  if (env.RELAYPACS_INSTANCE_NAME) merged.instanceName = env.RELAYPACS_INSTANCE_NAME;
  if (env.RELAYPACS_METRICS_PORT !== undefined) {
    merged.metrics = { ...(merged.metrics as object | undefined), port: env.RELAYPACS_METRICS_PORT === 'off' ? null : Number(env.RELAYPACS_METRICS_PORT) };
  }
  const flags = sources.flags ?? {};
  if (flags.port !== undefined) merged.port = flags.port;
  if (flags.host !== undefined) merged.host = flags.host;
  if (flags.dataDir !== undefined) merged.dataDir = flags.dataDir;
  if (flags.stowUrl !== undefined) merged.stowUrl = flags.stowUrl;
  if (flags.logFile !== undefined) merged.logFile = flags.logFile;
  if (flags.databaseUrl !== undefined) merged.databaseUrl = flags.databaseUrl;
  if (flags.storageUrl !== undefined) merged.storageUrl = flags.storageUrl;
  return parseRelayConfig(merged, configFile ?? 'configuration');
}

export function parseRelayConfig(input: Record<string, unknown>, source = 'configuration'): RelayConfig {
  const withDefaults = Value.Default(RelayConfigSchema, structuredClone(input));
  if (!Value.Check(RelayConfigSchema, withDefaults)) {
    const problems = Value.Errors(RelayConfigSchema, withDefaults)
      .slice(0, 5)
      .map((e) => `${e.instancePath || '/'} ${e.message}`);
    throw new ConfigError(`invalid ${source}: ${problems.join('; ')}`);
  }
  const config = withDefaults;
  config.dataDir = resolve(config.dataDir);
  if (config.logFile) config.logFile = resolve(config.logFile);
  const u = config.upload;
  if (!(u.minChunkBytes <= u.preferredChunkBytes && u.preferredChunkBytes <= u.maxChunkBytes)) {
    throw new ConfigError(`invalid ${source}: /upload needs minChunkBytes <= preferredChunkBytes <= maxChunkBytes`);
  }
  const names = new Set<string>();
  for (const destination of config.destinations) {
    if (names.has(destination.name)) throw new ConfigError(`invalid ${source}: two destinations are named "${destination.name}"`);
    names.add(destination.name);
  }
  if (config.stowUrl && names.has('pacs')) throw new ConfigError(`invalid ${source}: stowUrl adds a destination named "pacs", which already exists`);
  if (config.stowUrl) names.add('pacs');
  if (names.size === 0) names.add(DEFAULT_FOLDER_DESTINATION);
  for (const route of config.routes) {
    for (const name of route.destinations) {
      if (!names.has(name)) throw new ConfigError(`invalid ${source}: route ${route.name ?? JSON.stringify(route.match)} names an unknown destination "${name}"`);
    }
  }
  return config;
}

/** The configured instance name, or the host's name with a digest of the data directory (stable across restarts). */
export function effectiveInstanceName(config: RelayConfig): string {
  return config.instanceName ?? `${hostname()}/${createHash('sha256').update(config.dataDir).digest('hex').slice(0, 12)}`;
}

/** The destination used when none is configured: DATA/delivered/<study>/<instance>.dcm. */
export const DEFAULT_FOLDER_DESTINATION = 'local-folder';

/** The configured destinations, with the quick-start STOW-RS URL and the embedded default applied. */
export function effectiveDestinations(config: RelayConfig): DestinationConfig[] {
  const destinations = [...config.destinations];
  if (config.stowUrl) destinations.push({ name: 'pacs', kind: 'stow-rs', url: config.stowUrl });
  if (destinations.length === 0) destinations.push({ name: DEFAULT_FOLDER_DESTINATION, kind: 'folder', directory: join(config.dataDir, 'delivered') });
  return destinations;
}
