// Proves the lint rule keeping the relay's services on the store interfaces fires (eslint.config.js):
// each case lints a small source text as if it lived at the given path in the repository.
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '../../..');
const eslint = new ESLint({ cwd: repoRoot });

async function lintAs(relativePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, relativePath) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the relay\'s services reach state, storage and destinations only through interfaces (lint)', () => {
  it.each([
    ['auth imports the SQLite driver', 'server/src/auth/auth-service.ts', "import Database from 'better-sqlite3';\nexport const d = Database;\n", /no database driver/],
    ['auth imports a SQLite store', 'server/src/auth/user-accounts.ts', "import { SqliteUsers } from '../store/sqlite/sqlite-users.js';\nexport const u = SqliteUsers;\n", /never the SQLite or PostgreSQL stores/],
    ['auth imports the database', 'server/src/auth/session-check.ts', "import type { RelayDatabase } from '../store/sqlite/database.js';\nexport type D = RelayDatabase;\n", /never the SQLite or PostgreSQL stores/],
    ['auth imports the migrations', 'server/src/auth/signing-keys.ts', "import { MIGRATIONS } from '../store/sqlite/migrations.js';\nexport const m = MIGRATIONS;\n", /never the SQLite or PostgreSQL stores/],
    ['auth reads files', 'server/src/auth/signing-keys.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n", /no files/],
    ['auth reads files through the bare module name', 'server/src/auth/token-service.ts', "import { readFileSync } from 'fs';\nexport const r = readFileSync;\n", /no files/],
    ['upload imports the SQLite driver', 'server/src/upload/upload-service.ts', "import Database from 'better-sqlite3';\nexport const d = Database;\n", /no database driver/],
    ['upload imports the SQLite uploads store', 'server/src/upload/upload-status-view.ts', "import { SqliteUploads } from '../store/sqlite/sqlite-uploads.js';\nexport const u = SqliteUploads;\n", /never the SQLite or PostgreSQL stores/],
    ['upload writes files', 'server/src/upload/chunk-writers.ts', "import { createWriteStream } from 'node:fs';\nexport const w = createWriteStream;\n", /no files/],
    ['forward imports the database', 'server/src/forward/delivery-queue.ts', "import type { RelayDatabase } from '../store/sqlite/database.js';\nexport type D = RelayDatabase;\n", /never the SQLite or PostgreSQL stores/],
    ['forward reads files', 'server/src/forward/router.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n", /no files/],
    ['forward imports a concrete destination', 'server/src/forward/delivery-queue.ts', "import { FolderDestination } from '../destinations/folder-destination.js';\nexport const f = FolderDestination;\n", /never import a concrete destination/],
    ['forward imports a concrete storage', 'server/src/forward/delivery-queue.ts', "import { LocalDiskStorage } from '../storage/local-disk-storage.js';\nexport const l = LocalDiskStorage;\n", /only through the interface/],
    ['ops imports the SQLite deliveries store', 'server/src/ops/metrics-route.ts', "import { SqliteDeliveries } from '../store/sqlite/sqlite-deliveries.js';\nexport const d = SqliteDeliveries;\n", /never the SQLite or PostgreSQL stores/],
    ['ops writes files', 'server/src/ops/events-route.ts', "import { appendFileSync } from 'fs';\nexport const a = appendFileSync;\n", /no files/],
    ['forward imports the PostgreSQL driver', 'server/src/forward/delivery-queue.ts', "import pg from 'pg';\nexport const p = pg;\n", /no database driver/],
    ['upload imports a PostgreSQL store', 'server/src/upload/upload-service.ts', "import { PostgresUploads } from '../store/postgres/postgres-uploads.js';\nexport const u = PostgresUploads;\n", /never the SQLite or PostgreSQL stores/],
    ['upload imports the S3 SDK', 'server/src/upload/upload-service.ts', "import { S3Client } from '@aws-sdk/client-s3';\nexport const c = S3Client;\n", /object store's SDK/],
    ['a store interface imports the PostgreSQL store', 'server/src/store/relay-store.ts', "import { PostgresRelayStore } from './postgres/postgres-relay-store.js';\nexport const s = PostgresRelayStore;\n", /never the SQLite or PostgreSQL stores/],
    ['a store interface imports the database', 'server/src/store/audit-store.ts', "import type { RelayDatabase } from './sqlite/database.js';\nexport type D = RelayDatabase;\n", /never the SQLite or PostgreSQL stores/],
    ['a store interface imports its SQLite implementation', 'server/src/store/relay-store.ts', "import { SqliteRelayStore } from './sqlite/sqlite-relay-store.js';\nexport const s = SqliteRelayStore;\n", /never the SQLite or PostgreSQL stores/],
  ])('rejects: %s', async (_name, path, code, message) => {
    const messages = await lintAs(path, code);
    expect(messages.some((m) => message.test(m)), messages.join('\n')).toBe(true);
  });

  it.each([
    ['auth uses the store interfaces', 'server/src/auth/user-accounts.ts', "import type { RelayStore } from '../store/relay-store.js';\nimport type { AuditStore } from '../store/audit-store.js';\nexport type S = [RelayStore, AuditStore];\n"],
    ['auth uses node:crypto', 'server/src/auth/refresh-token-service.ts', "import { randomBytes } from 'node:crypto';\nexport const r = randomBytes;\n"],
    ['the SQLite stores use the database', 'server/src/store/sqlite/sqlite-users.ts', "import type { RelayDatabase } from './database.js';\nexport type D = RelayDatabase;\n"],
    ['the PostgreSQL stores use pg', 'server/src/store/postgres/postgres-db.ts', "import type { Pool } from 'pg';\nexport type P = Pool;\n"],
    ['forward uses the stores, the storage and destination interfaces', 'server/src/forward/delivery-queue.ts', "import type { RelayStore } from '../store/relay-store.js';\nimport type { TemporaryStorage } from '../storage/storage.js';\nimport type { Destination } from './destination.js';\nexport type S = [RelayStore, TemporaryStorage, Destination];\n"],
    ['a destination writes files', 'server/src/destinations/folder-destination.ts', "import { open } from 'node:fs/promises';\nexport const o = open;\n"],
    ['the log writes files', 'server/src/log/relay-log.ts', "import { openSync } from 'node:fs';\nexport const o = openSync;\n"],
  ])('allows: %s', async (_name, path, code) => {
    expect(await lintAs(path, code)).toEqual([]);
  });
});
