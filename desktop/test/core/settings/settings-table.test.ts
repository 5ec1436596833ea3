// One writer of the `settings` table: the agent's and the desktop's settings both store through
// SettingsTable, which sets updated_at and deletes a cleared key.
import { readdir, readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCatalogDatabase, type CatalogDatabase } from '../../../src/core/catalog/catalog-database.js';
import { DesktopSettings } from '../../../src/app/desktop-settings.js';
import { AgentSettings } from '../../../src/core/settings/agent-settings.js';
import { SettingsTable } from '../../../src/core/settings/settings-table.js';

let workDir: string;
let db: CatalogDatabase;
const at = new Date('2026-03-01T10:00:00Z');

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'relaypacs-settings-table-'));
  db = openCatalogDatabase(join(workDir, 'catalog.db'));
});
afterAll(async () => {
  db?.close();
  await rm(workDir, { recursive: true, force: true });
});

const rows = () => db.prepare('SELECT key, value, updated_at AS updatedAt FROM settings ORDER BY key').all();

describe('the settings table', () => {
  it('stores, reads and clears a key, stamping when it changed', () => {
    const table = new SettingsTable(db, () => at);
    expect(table.get('test.key')).toBeUndefined();
    table.set('test.key', 'one');
    expect(table.get('test.key')).toBe('one');
    expect(rows()).toContainEqual({ key: 'test.key', value: 'one', updatedAt: at.toISOString() });
    table.set('test.key', null);
    expect(table.get('test.key')).toBeUndefined();
    expect(rows()).not.toContainEqual(expect.objectContaining({ key: 'test.key' }));
  });

  it('is what the agent\'s and the desktop\'s settings write through, rows alike', () => {
    const agent = new AgentSettings(db, () => at);
    const desktop = new DesktopSettings(db, agent, undefined, () => at);
    desktop.set({ maxBytesPerSecond: 500_000, theme: 'dark' });
    expect(rows()).toEqual(expect.arrayContaining([
      { key: 'upload.max_bytes_per_second', value: '500000', updatedAt: at.toISOString() },
      { key: expect.stringMatching(/^desktop\./), value: '"dark"', updatedAt: at.toISOString() },
    ]));
    desktop.set({ maxBytesPerSecond: 0 });
    expect(agent.maxBytesPerSecond()).toBeNull();
    expect(rows()).not.toContainEqual(expect.objectContaining({ key: 'upload.max_bytes_per_second' }));
  });

  it('has no other writer in the desktop sources', async () => {
    const src = join(import.meta.dirname, '../../../src');
    const writers: string[] = [];
    for (const entry of await readdir(src, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !/\.tsx?$/.test(entry.name)) continue;
      const path = join(entry.parentPath, entry.name);
      if (/(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+settings\b/i.test(await readFile(path, 'utf8'))) writers.push(relative(src, path));
    }
    expect(writers).toEqual(['core/settings/settings-table.ts']);
  });
});
