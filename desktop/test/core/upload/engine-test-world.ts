// What the upload engine's integration tests run against: the real relay (in-process, real HTTP,
// real SQLite, small chunks so studies take many) forwarding over STOW-RS to a real Orthanc, a
// catalog on a real SQLite file, and a radiographer's access token.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateStudy, OrthancServer, type GeneratedStudy } from '@relaypacs/testkit';
import { startTestRelay, type TestRelay } from '../../../../server/test/support/test-relay.js';
import { openCatalogDatabase, type CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { folderSource } from '../../../src/core/import/folder-source.js';
import { ImportService } from '../../../src/core/import/import-service.js';

export interface EngineWorld {
  workDir: string;
  orthanc: OrthancServer;
  relay: TestRelay;
  db: CatalogDatabase;
  token: string;
  /** Generates a study of `instances` (size × size) under workDir/name and imports it into the catalog. */
  importStudy(name: string, instances: number, size?: number): Promise<GeneratedStudy>;
  close(): Promise<void>;
}

export interface EngineWorldOptions {
  /** Merged into the relay's `delivery` section (e.g. maxAttempts, so a PACS that is down fails deliveries). */
  delivery?: Record<string, unknown>;
}

export async function startEngineWorld(prefix: string, options: EngineWorldOptions = {}): Promise<EngineWorld> {
  const workDir = await mkdtemp(join(tmpdir(), prefix));
  const orthanc = await OrthancServer.start();
  const relay = await startTestRelay({
    upload: { minFreeDiskBytes: 0, minChunkBytes: 1024, preferredChunkBytes: 16 * 1024, maxChunkBytes: 256 * 1024 },
    delivery: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5, ...options.delivery },
    destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, confirm: true }],
  }, { deliver: true });
  const token = await relay.tokenFor('radiographer');
  const db = openCatalogDatabase(join(workDir, 'catalog.db'));
  return {
    workDir, orthanc, relay, db, token,
    async importStudy(name, instances, size = 128) {
      const study = await generateStudy(join(workDir, name), { instances, series: Math.min(2, instances), rows: size, columns: size });
      await new ImportService({ db }).run(name, folderSource(join(workDir, name)));
      return study;
    },
    async close() {
      db.close();
      await relay.close();
      await orthanc.stop();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
