import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditLog } from './auth/audit-log.js';
import { createRequestGuards, type RequestGuards } from './auth/request-guards.js';
import { SessionStore } from './auth/session-store.js';
import { loadOrCreateSigningKeys } from './auth/signing-keys.js';
import { TokenService } from './auth/token-service.js';
import { UsersRepository } from './auth/users-repository.js';
import { effectiveDestinations, type RelayConfig } from './config/relay-config.js';
import { openDatabase, type RelayDatabase } from './db/database.js';
import { WalDurability } from './db/wal-durability.js';
import { RelayMetrics } from './ops/relay-metrics.js';
import { RelayEvents } from './ops/relay-events.js';
import { DeliveryQueue } from './forward/delivery-queue.js';
import { createDestination } from './forward/destination-factory.js';
import type { Destination } from './forward/destination.js';
import { Router } from './forward/router.js';
import { LocalDiskStorage } from './storage/local-disk-storage.js';
import type { TemporaryStorage } from './storage/storage.js';
import { UploadService } from './upload/upload-service.js';

/** Everything the relay's routes and jobs use, built once from the configuration. */
export interface RelayServices {
  config: RelayConfig;
  db: RelayDatabase;
  /** Awaited before every HTTP answer: what was committed is then on disk (see WalDurability). */
  durability: WalDurability;
  storage: TemporaryStorage;
  tokens: TokenService;
  users: UsersRepository;
  sessions: SessionStore;
  guards: RequestGuards;
  /** The audit trail (auth/audit-log.ts): sign-ins, account changes, uploads. */
  audit: AuditLog;
  uploads: UploadService;
  deliveries: DeliveryQueue;
  events: RelayEvents;
  metrics: RelayMetrics;
  now: () => Date;
  close(): Promise<void>;
}

export interface ServiceOverrides {
  now?: () => Date;
  storage?: TemporaryStorage;
  /** Replaces the destinations built from the configuration (tests). */
  destinations?: Destination[];
}

/** Opens (or creates) the data directory, database and signing keys: DATA/relay.db, DATA/keys, DATA/uploads. */
export async function createRelayServices(config: RelayConfig, overrides: ServiceOverrides = {}): Promise<RelayServices> {
  const now = overrides.now ?? (() => new Date());
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  await chmod(config.dataDir, 0o700);
  const dbPath = join(config.dataDir, 'relay.db');
  const db = openDatabase(dbPath, { flushedByCaller: true });
  const durability = new WalDurability(db, `${dbPath}-wal`);
  const keys = await loadOrCreateSigningKeys(config.dataDir);
  const tokens = new TokenService({ keys, issuer: config.auth.issuer, accessTokenSeconds: config.auth.accessTokenSeconds, now });
  const users = new UsersRepository(db, now);
  const sessions = new SessionStore(db, now);
  const storage = overrides.storage ?? new LocalDiskStorage(join(config.dataDir, 'uploads'));
  const metrics = new RelayMetrics();
  const events = new RelayEvents(db);
  const destinationConfigs = effectiveDestinations(config);
  const destinationList = overrides.destinations ?? destinationConfigs.map(createDestination);
  const deliveries = new DeliveryQueue({
    db, storage, metrics, events, now, delivery: config.delivery,
    destinations: new Map(destinationList.map((d) => [d.name, d])),
    confirming: new Set(destinationConfigs.filter((d) => d.confirm).map((d) => d.name)),
    router: new Router(config.routes, destinationList.map((d) => d.name)),
  });
  const uploads = new UploadService({
    db, storage, tokens, metrics, events, limits: config.upload, uploadTokenSeconds: config.auth.uploadTokenSeconds, now,
    onInstanceVerified: (uploadId, index) => deliveries.enqueueInstance(uploadId, index),
    onStudyAccepted: (uploadId) => deliveries.studyAccepted(uploadId),
    deliveryItems: (uploadId) => deliveries.repo.itemsOf(uploadId),
  });
  return {
    config, db, durability, storage, tokens, users, sessions, metrics, uploads, deliveries, events, now,
    audit: new AuditLog(db, now),
    guards: createRequestGuards(tokens, (sessionId, userId) => sessions.isActive(sessionId, userId)),
    async close() {
      await uploads.close();
      await deliveries.stop();
      await durability.close();
      db.close();
    },
  };
}
