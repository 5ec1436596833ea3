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

describe('the relay reaches its state only through the store interfaces (lint)', () => {
  it.each([
    ['auth imports the SQLite driver', 'server/src/auth/auth-service.ts', "import Database from 'better-sqlite3';\nexport const d = Database;\n", /no database driver/],
    ['auth imports a SQLite store', 'server/src/auth/user-accounts.ts', "import { SqliteUsers } from '../store/sqlite/sqlite-users.js';\nexport const u = SqliteUsers;\n", /never the SQLite stores/],
    ['auth imports the database', 'server/src/auth/session-check.ts', "import type { RelayDatabase } from '../db/database.js';\nexport type D = RelayDatabase;\n", /never touches the database/],
    ['auth imports the migrations', 'server/src/auth/signing-keys.ts', "import { MIGRATIONS } from '../db/migrations.js';\nexport const m = MIGRATIONS;\n", /never touches the database/],
    ['auth reads files', 'server/src/auth/signing-keys.ts', "import { readFile } from 'node:fs/promises';\nexport const r = readFile;\n", /no files/],
    ['auth reads files through the bare module name', 'server/src/auth/token-service.ts', "import { readFileSync } from 'fs';\nexport const r = readFileSync;\n", /no files/],
    ['a store interface imports the database', 'server/src/store/audit-store.ts', "import type { RelayDatabase } from '../db/database.js';\nexport type D = RelayDatabase;\n", /never touches the database/],
    ['a store interface imports its SQLite implementation', 'server/src/store/relay-store.ts', "import { SqliteRelayStore } from './sqlite/sqlite-relay-store.js';\nexport const s = SqliteRelayStore;\n", /never the SQLite stores/],
  ])('rejects: %s', async (_name, path, code, message) => {
    const messages = await lintAs(path, code);
    expect(messages.some((m) => message.test(m)), messages.join('\n')).toBe(true);
  });

  it.each([
    ['auth uses the store interfaces', 'server/src/auth/user-accounts.ts', "import type { RelayStore } from '../store/relay-store.js';\nimport type { AuditStore } from '../store/audit-store.js';\nexport type S = [RelayStore, AuditStore];\n"],
    ['auth uses node:crypto', 'server/src/auth/refresh-token-service.ts', "import { randomBytes } from 'node:crypto';\nexport const r = randomBytes;\n"],
    ['the SQLite stores use the database', 'server/src/store/sqlite/sqlite-users.ts', "import type { RelayDatabase } from '../../db/database.js';\nexport type D = RelayDatabase;\n"],
  ])('allows: %s', async (_name, path, code) => {
    expect(await lintAs(path, code)).toEqual([]);
  });
});
