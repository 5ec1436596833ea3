import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { openCatalogDatabase, type CatalogDatabase } from './catalog/catalog-database.js';
import { CatalogReader } from './catalog/catalog-reader.js';
import { ImportService } from './import/import-service.js';
import type { CredentialStore } from './secrets/credential-store.js';
import { createCredentialStore } from './secrets/os-keychain-store.js';
import { AgentSession } from './session/agent-session.js';
import { RelayClient } from './upload/relay-client.js';
import { UploadEngine, type JobProgress } from './upload/upload-engine.js';

export interface CoreOptions {
  dataDir: string;
  credentials?: CredentialStore;
  onUploadProgress?: (progress: JobProgress) => void;
}

export interface Core {
  dataDir: string;
  tempDir: string;
  db: CatalogDatabase;
  catalog: CatalogReader;
  imports: ImportService;
  session: AgentSession;
  /** The upload engine for the signed-in relay (built on first use). */
  engine(): Promise<UploadEngine>;
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
  const clients = new Map<string, RelayClient>();
  const clientFor = (relayUrl: string) => {
    let client = clients.get(relayUrl);
    if (!client) clients.set(relayUrl, (client = new RelayClient({ baseUrl: relayUrl })));
    return client;
  };
  const session = new AgentSession(options.dataDir, options.credentials ?? createCredentialStore(), clientFor);
  let engine: UploadEngine | undefined;
  return {
    dataDir: options.dataDir, tempDir, db, session,
    catalog: new CatalogReader(db),
    imports: new ImportService({ db }),
    async engine() {
      if (engine) return engine;
      const info = await session.info();
      if (!info) throw new Error('not signed in: run `relaypacs login --relay URL --user NAME` first');
      engine = new UploadEngine({
        db, client: clientFor(info.relayUrl), accessToken: () => session.accessToken(), sourceWorkstation: hostname(),
        ...(options.onUploadProgress ? { onProgress: options.onUploadProgress } : {}),
      });
      return engine;
    },
    close() {
      db.close();
    },
  };
}
