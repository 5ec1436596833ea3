import { join } from 'node:path';
import type { RelayConfig } from './config/relay-config.js';
import { LocalDiskStorage } from './storage/local-disk-storage.js';
import { S3TemporaryStorage } from './storage/s3-storage.js';
import type { TemporaryStorage } from './storage/storage.js';
import { parseS3StorageUrl } from './storage/storage-url.js';
import { openPostgresRelayStore } from './store/postgres/postgres-relay-store.js';
import type { RelayStore } from './store/relay-store.js';
import { openSqliteRelayStore } from './store/sqlite/sqlite-relay-store.js';

/**
 * Where the relay keeps its state and its uploads' bytes: SQLite in DATA/relay.db and files in
 * DATA/uploads (the embedded default, one relay), or PostgreSQL (databaseUrl) and an S3-compatible
 * bucket (storageUrl), which N relays share to form one service behind a load balancer. The only
 * place that knows the concrete backends; everything else sees RelayStore and TemporaryStorage.
 * The drivers (pg, the AWS SDK) load only when their backend is configured.
 */

/** The relay's state. `flushedByCaller`: the server's mode (it awaits flush() before answering). */
export async function openRelayStore(config: RelayConfig, options: { now?: () => Date; flushedByCaller?: boolean } = {}): Promise<RelayStore> {
  if (config.databaseUrl) return openPostgresRelayStore(config.databaseUrl, options.now ? { now: options.now } : {});
  return openSqliteRelayStore(join(config.dataDir, 'relay.db'), { flushedByCaller: options.flushedByCaller ?? false, ...(options.now ? { now: options.now } : {}) });
}

/** Temporary storage for the uploads' chunks. */
export async function openTemporaryStorage(config: RelayConfig): Promise<TemporaryStorage> {
  if (!config.storageUrl) return new LocalDiskStorage(join(config.dataDir, 'uploads'), config.upload);
  return S3TemporaryStorage.open({
    ...parseS3StorageUrl(config.storageUrl),
    // Every chunk being written and every instance being read holds a socket for as long as it
    // lasts: room for a busy relay's parallel chunks and delivery reads, bounded all the same.
    maxSockets: 256,
  });
}

/** Where state and storage live, as the start-up line says it: no password, no key, no query. */
export function describeBackends(config: RelayConfig): string {
  const state = config.databaseUrl ? `PostgreSQL at ${redactedDatabase(config.databaseUrl)}` : `SQLite in ${join(config.dataDir, 'relay.db')}`;
  const bytes = config.storageUrl ? `uploads in ${redactedStorage(config.storageUrl)}` : `uploads in ${join(config.dataDir, 'uploads')}`;
  return `state in ${state}, ${bytes}`;
}

function redactedDatabase(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}${parsed.pathname}`;
  } catch {
    return 'the configured database';
  }
}

function redactedStorage(url: string): string {
  try {
    const { bucket, prefix, endpoint } = parseS3StorageUrl(url);
    return `s3://${bucket}/${prefix}${endpoint ? ` at ${new URL(endpoint).host}` : ''}`;
  } catch {
    return 'the configured bucket';
  }
}
