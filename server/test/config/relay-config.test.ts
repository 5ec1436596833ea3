import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, effectiveDestinations, loadRelayConfig } from '../../src/config/relay-config.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'relaypacs-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('relay configuration', () => {
  it('starts from embedded defaults: loopback, SQLite and storage under one data directory', () => {
    const config = loadRelayConfig({ env: {} });
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8780, logLevel: 'info', corsOrigins: [] });
    expect(config.dataDir).toMatch(/relaypacs\/relay$/);
    // Any SOP class by default: whatever the PACS stores (issue 14).
    expect(config.upload.allowedSopClasses).toEqual(['*']);
    expect(config.auth.accessTokenSeconds).toBeLessThanOrEqual(900);
  });

  it('layers file, environment and flags, in that order of precedence', async () => {
    const file = join(dir, 'relay.json');
    await writeFile(file, JSON.stringify({ port: 9000, host: '127.0.0.2', dataDir: '/srv/file', upload: { maxChunkBytes: 1048576, preferredChunkBytes: 524288 } }));
    const fromFile = loadRelayConfig({ env: { RELAYPACS_CONFIG: file } });
    expect(fromFile).toMatchObject({ port: 9000, host: '127.0.0.2', dataDir: '/srv/file', upload: { maxChunkBytes: 1048576, minChunkBytes: 65536 } });
    const fromEnv = loadRelayConfig({ env: { RELAYPACS_CONFIG: file, RELAYPACS_PORT: '9100', RELAYPACS_DATA: '/srv/env' } });
    expect(fromEnv).toMatchObject({ port: 9100, host: '127.0.0.2', dataDir: '/srv/env' });
    const fromFlags = loadRelayConfig({ env: { RELAYPACS_CONFIG: file, RELAYPACS_PORT: '9100' }, flags: { port: 9200, dataDir: '/srv/flag' } });
    expect(fromFlags).toMatchObject({ port: 9200, dataDir: '/srv/flag' });
  });

  it('stops with the field and the reason on invalid values', async () => {
    expect(() => loadRelayConfig({ env: { RELAYPACS_PORT: 'eighty' } })).toThrow(/invalid configuration: \/port/);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify({ upload: { maxChunkBytes: 'lots' } }));
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: bad } })).toThrow(/\/upload\/maxChunkBytes/);
    await writeFile(bad, JSON.stringify({ uplaod: {} }));
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: bad } })).toThrow(ConfigError);
    await writeFile(bad, '{ not json');
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: bad } })).toThrow(/is not valid JSON/);
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: join(dir, 'missing.json') } })).toThrow(/cannot read config file/);
    await writeFile(bad, JSON.stringify({ upload: { minChunkBytes: 2048, preferredChunkBytes: 1024 } }));
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: bad } })).toThrow(/minChunkBytes <= preferredChunkBytes/);
  });

  it('delivers to a local folder by default, adds one STOW-RS PACS from --stow-url, and checks routes', async () => {
    const defaults = loadRelayConfig({ env: { RELAYPACS_DATA: '/srv/relay' } });
    expect(effectiveDestinations(defaults)).toEqual([{ name: 'local-folder', kind: 'folder', directory: '/srv/relay/delivered' }]);
    const quick = loadRelayConfig({ env: { RELAYPACS_STOW_URL: 'http://pacs.test:8042/dicom-web' } });
    expect(effectiveDestinations(quick)).toEqual([{ name: 'pacs', kind: 'stow-rs', url: 'http://pacs.test:8042/dicom-web' }]);
    const flag = loadRelayConfig({ env: {}, flags: { stowUrl: 'https://pacs.test/dicom-web' } });
    expect(effectiveDestinations(flag).map((d) => d.name)).toEqual(['pacs']);
    const file = join(dir, 'routes.json');
    await writeFile(file, JSON.stringify({ destinations: [{ name: 'archive', kind: 'folder', directory: '/a' }], routes: [{ match: { modality: ['CT'] }, destinations: ['nowhere'] }] }));
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: file } })).toThrow(/unknown destination "nowhere"/);
    await writeFile(file, JSON.stringify({ destinations: [{ name: 'x', kind: 'folder', directory: '/a' }, { name: 'x', kind: 'folder', directory: '/b' }] }));
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: file } })).toThrow(/two destinations are named "x"/);
    await writeFile(file, JSON.stringify({ destinations: [{ name: 'p', kind: 'stow-rs', url: 'ftp://nope' }] }));
    expect(() => loadRelayConfig({ env: {}, flags: { configFile: file } })).toThrow(ConfigError);
  });

  it('takes the PostgreSQL and S3 URLs from flags over the environment over the file, and refuses other schemes', async () => {
    const database = 'postgres://relay:secret@db.test:5432/relaypacs?sslmode=verify-full';
    const storage = 's3://relay-chunks/site-a?endpoint=https://s3.test&region=eu-west-1&forcePathStyle=true';
    expect(loadRelayConfig({ env: {} })).not.toHaveProperty('databaseUrl');
    const fromEnv = loadRelayConfig({ env: { RELAYPACS_DATABASE_URL: database, RELAYPACS_STORAGE_URL: storage } });
    expect(fromEnv).toMatchObject({ databaseUrl: database, storageUrl: storage });
    const file = join(dir, 'backends.json');
    await writeFile(file, JSON.stringify({ databaseUrl: 'postgresql://file@db.test/x', storageUrl: 's3://from-file' }));
    expect(loadRelayConfig({ env: {}, flags: { configFile: file } })).toMatchObject({ databaseUrl: 'postgresql://file@db.test/x', storageUrl: 's3://from-file' });
    expect(loadRelayConfig({ env: { RELAYPACS_DATABASE_URL: database }, flags: { configFile: file } }).databaseUrl).toBe(database);
    expect(loadRelayConfig({ env: { RELAYPACS_DATABASE_URL: database }, flags: { databaseUrl: 'postgres://flag@db.test/y', configFile: file } }).databaseUrl).toBe('postgres://flag@db.test/y');
    expect(() => loadRelayConfig({ env: { RELAYPACS_DATABASE_URL: 'mysql://relay@db.test/x' } })).toThrow(/\/databaseUrl/);
    expect(() => loadRelayConfig({ env: { RELAYPACS_STORAGE_URL: 'https://s3.test/bucket' } })).toThrow(/\/storageUrl/);
    // The error names the field, never the value: a database URL carries a password.
    expect(() => loadRelayConfig({ env: { RELAYPACS_DATABASE_URL: 'mysql://relay:hunter2@db.test/x' } })).not.toThrow(/hunter2/);
  });
});
