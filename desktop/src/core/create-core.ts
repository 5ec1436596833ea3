import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { openCatalogDatabase, type CatalogDatabase } from './catalog/catalog-database.js';
import { CatalogReader } from './catalog/catalog-reader.js';
import { aeTitleFor } from './import/file-meta-wrapping.js';
import { ImportService } from './import/import-service.js';
import type { UnattendedSignIn } from './secrets/agent-credentials.js';
import type { CredentialStore } from './secrets/credential-store.js';
import { createCredentialStore } from './secrets/os-keychain-store.js';
import { AgentSettings } from './settings/agent-settings.js';
import { AgentSession, NotSignedInError } from './session/agent-session.js';
import { ReportsService } from './reports/reports-service.js';
import type { UploadEventSource } from './upload/relay-event-stream.js';
import { ConnectivityMonitor } from './upload/connectivity-monitor.js';
import { RelayClient } from './upload/relay-client.js';
import { RelayEventStream } from './upload/relay-event-stream.js';
import { UploadEngine, type JobProgress } from './upload/upload-engine.js';

export interface CoreOptions {
  dataDir: string;
  credentials?: CredentialStore;
  /** A sign-in the agent repeats by itself (systemd credentials, agent-credentials.ts). */
  unattended?: UnattendedSignIn;
  onUploadProgress?: (progress: JobProgress) => void;
}

export interface Core {
  dataDir: string;
  tempDir: string;
  db: CatalogDatabase;
  catalog: CatalogReader;
  imports: ImportService;
  session: AgentSession;
  /** The bandwidth cap and routine windows; the engine reads them before every chunk. */
  settings: AgentSettings;
  /** The upload engine for the signed-in relay (built on first use), with the relay's event stream. */
  engine(): Promise<UploadEngine>;
  /** The reports the relay found for this user's studies in the PACS. */
  reports: ReportsService;
  /** The relay's event stream of the signed-in session (built with the engine). */
  relayEvents(): Promise<UploadEventSource | undefined>;
  /** Hears every upload progress report of the engine (besides options.onUploadProgress); returns the unsubscribe. */
  onUploadProgress(listener: (progress: JobProgress) => void): () => void;
  /**
   * Closes the engine built for the session so far (ending its waits) and forgets it: the next
   * engine() is built for whoever is signed in then (after a sign-out, or on another relay).
   */
  resetEngine(): void;
  /** Ends the engine's waits (window, relay), closes the event stream and the catalog: nothing of the core keeps the process alive after. */
  close(): void;
}

/**
 * The composition root of the desktop core: ports in (data folder, keychain), services out. The
 * Electron main process and the relaypacs command both build the core here.
 */
export async function createCore(options: CoreOptions): Promise<Core> {
  await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
  const tempDir = join(options.dataDir, 'tmp');
  const db = openCatalogDatabase(join(options.dataDir, 'catalog.db'));
  const settings = new AgentSettings(db);
  // The CA file is read when a client is built; the cache key includes the connection settings,
  // so changing them (relaypacs settings, the settings screen) takes effect on the next client.
  const clients = new Map<string, RelayClient>();
  const connectionFor = () => {
    const { caFile, proxy } = settings.connection();
    return { ...(caFile ? { ca: readFileSync(caFile) } : {}), ...(proxy ? { proxy } : {}) };
  };
  const clientFor = (relayUrl: string) => {
    const key = JSON.stringify([relayUrl, settings.connection()]);
    let client = clients.get(key);
    if (!client) clients.set(key, (client = new RelayClient({ baseUrl: relayUrl, ...connectionFor() })));
    return client;
  };
  const session = new AgentSession(options.dataDir, options.credentials ?? createCredentialStore(), clientFor, options.unattended);
  let engine: UploadEngine | undefined;
  let events: RelayEventStream | undefined;
  const progressListeners = new Set<(progress: JobProgress) => void>();
  const reportProgress = (progress: JobProgress) => {
    options.onUploadProgress?.(progress);
    for (const listener of progressListeners) listener(progress);
  };
  const resetEngine = () => {
    engine?.close();
    events?.close();
    engine = undefined;
    events = undefined;
  };
  const core: Core = {
    dataDir: options.dataDir, tempDir, db, session, settings,
    catalog: new CatalogReader(db),
    reports: new ReportsService({
      client: async () => {
        const info = await session.info();
        if (!info) throw new NotSignedInError('not signed in: run `relaypacs login --relay URL --user NAME` first');
        return clientFor(info.relayUrl);
      },
      accessToken: (rejected) => session.accessToken(rejected),
    }),
    imports: new ImportService({ db, wrappedDir: join(options.dataDir, 'wrapped'), sourceAeTitle: aeTitleFor(hostname()) }),
    async engine() {
      if (engine) return engine;
      const info = await session.info();
      if (!info) throw new NotSignedInError('not signed in: run `relaypacs login --relay URL --user NAME` first');
      if (engine) return engine; // built by a call that overtook this one while it read the session
      const { ca } = connectionFor();
      // The event stream does not go through a proxy: behind one, delivery is followed by polling.
      events = new RelayEventStream({ baseUrl: info.relayUrl, accessToken: (rejected) => session.accessToken(rejected), ...(ca ? { ca } : {}) });
      const client = clientFor(info.relayUrl);
      engine = new UploadEngine({
        limits: () => settings.sending(), connectivity: new ConnectivityMonitor({ probe: () => client.isLive() }),
        db, client, accessToken: () => session.accessToken(), sourceWorkstation: hostname(), events,
        onProgress: reportProgress,
      });
      return engine;
    },
    async relayEvents() {
      await core.engine();
      return events;
    },
    onUploadProgress(listener) {
      progressListeners.add(listener);
      return () => progressListeners.delete(listener);
    },
    resetEngine,
    close() {
      engine?.close();
      events?.close();
      db.close();
    },
  };
  return core;
}
