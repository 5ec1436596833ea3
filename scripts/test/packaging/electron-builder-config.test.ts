// electron-builder.yml, checked the way electron-builder itself checks it (its JSON schema,
// app-builder-lib/scheme.json, with ajv; and its own loader and validateConfiguration), plus the
// settings issue 8 asks for. The package contents are checked with electron-builder's own production
// dependency collector (the code that decides which node_modules are packed): the relay's dependencies
// must not be among them. No installer is built: there is no Electron binary here (docs/deploy/packaging.md).
import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import type { Configuration } from 'electron-builder';
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '../../..');
// app-builder-lib is electron-builder's engine; resolve it (and its pinned helpers) from there.
const fromBuilder = createRequire(createRequire(import.meta.url).resolve('electron-builder/package.json'));
const appBuilderLib = (path: string): unknown => fromBuilder(`app-builder-lib/${path}`);

const config = yaml.load(readFileSync(join(root, 'electron-builder.yml'), 'utf8')) as Configuration;

describe('electron-builder.yml against electron-builder\'s schema', () => {
  const ajv = new Ajv({ allErrors: true, strict: false });
  const validate = ajv.compile(appBuilderLib('scheme.json') as object);

  it('validates against app-builder-lib/scheme.json (ajv, every error listed)', () => {
    const valid = validate(config);
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema check catches a misspelt option (so the test above means something)', () => {
    expect(validate({ ...config, msi: { ...config.msi, perMachin: true } })).toBe(false);
  });

  it('loads and validates through electron-builder\'s own getConfig and validateConfiguration', async () => {
    const { getConfig, validateConfiguration } = appBuilderLib('out/util/config/config.js') as {
      getConfig: (projectDir: string, configPath: string | null, configFromOptions: null) => Promise<Configuration>;
      validateConfiguration: (config: Configuration, logger: unknown) => Promise<void>;
    };
    const { DebugLogger } = fromBuilder('builder-util') as { DebugLogger: new (enabled: boolean) => unknown };
    const loaded = await getConfig(root, 'electron-builder.yml', null);
    await expect(validateConfiguration(loaded, new DebugLogger(false))).resolves.toBeUndefined();
    expect(loaded.appId).toBe('org.relaypacs.desktop');
  });
});

describe('the settings issue 8 asks for', () => {
  it('Windows: a per-machine MSI with a fixed upgrade code, and NSIS', () => {
    const targets = (config.win!.target as { target: string }[]).map((t) => t.target);
    expect(targets).toEqual(['msi', 'nsis']);
    expect(config.msi).toMatchObject({ perMachine: true, runAfterFinish: false });
    expect(config.msi!.upgradeCode).toMatch(/^\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}$/);
    expect(config.msi!.artifactName).toBe('${productName}-${version}.${ext}');
    expect(config.win!.verifyUpdateCodeSignature).toBe(true);
  });

  it('macOS: DMG and zip, hardened runtime, notarization, entitlements in build/', async () => {
    expect(config.mac!.target).toEqual(['dmg', 'zip']);
    expect(config.mac).toMatchObject({ hardenedRuntime: true, notarize: true, entitlements: 'build/entitlements.mac.plist', entitlementsInherit: 'build/entitlements.mac.inherit.plist' });
    for (const file of [config.mac!.entitlements!, config.mac!.entitlementsInherit!]) {
      const text = await readFile(join(root, file), 'utf8');
      expect(text).toContain('<key>com.apple.security.cs.allow-jit</key>');
      // Library validation stays on: nothing may be injected into the signed app.
      expect(text).not.toContain('disable-library-validation');
    }
  });

  it('Linux: AppImage and deb', () => {
    expect((config.linux!.target as { target: string }[]).map((t) => t.target)).toEqual(['AppImage', 'deb']);
  });

  it('asar, native modules unpacked, no rebuild against Electron headers', () => {
    expect(config.asar).toBe(true);
    expect(config.asarUnpack).toEqual(expect.arrayContaining(['**/node_modules/better-sqlite3/**/*', '**/node_modules/@napi-rs/keyring*/**/*', '**/*.node']));
    expect(config.npmRebuild).toBe(false);
  });

  it('Electron fuses: run-as-node, NODE_OPTIONS and inspect off; asar integrity, asar only and cookie encryption on', () => {
    expect(config.electronFuses).toMatchObject({
      runAsNode: false,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      enableCookieEncryption: true,
    });
  });

  it('updates: a generic HTTPS provider whose URL comes from the environment, with channels', () => {
    expect(config.publish).toEqual([{ provider: 'generic', url: '${env.RELAYPACS_UPDATE_URL}', channel: 'latest' }]);
    expect(config.generateUpdatesFilesForAllChannels).toBe(true);
    expect(config.detectUpdateChannel).toBe(true);
  });

  it('icons come from resources/ and exist', () => {
    expect(config.win!.icon).toBe('resources/icon.png');
    expect(config.mac!.icon).toBe('resources/icon.png');
    expect(config.linux!.icon).toBe('resources/icons');
    expect(existsSync(join(root, 'resources/icon.png'))).toBe(true);
    expect(existsSync(join(root, 'resources/icons/512x512.png'))).toBe(true);
    expect(existsSync(join(root, 'resources/icons/256x256.png'))).toBe(true);
  });
});

describe('what goes into the package', () => {
  it('files: only the built desktop app and package.json; server/ never included', () => {
    const files = config.files as string[];
    const includes = files.filter((f) => !f.startsWith('!'));
    expect(includes).toEqual(['desktop/dist/**/*', 'package.json']);
    expect(files).toContain('!server{,/**/*}');
    expect(includes.some((f) => f.startsWith('server') || f.includes('/server'))).toBe(false);
  });

  it('electron-builder\'s production dependency collector packs none of the relay\'s dependencies', async () => {
    const { getCollectorByPackageManager, PM } = appBuilderLib('out/node-module-collector/index.js') as {
      PM: { NPM: string };
      getCollectorByPackageManager: (pm: string, rootDir: string, tmp: unknown) => { getNodeModules(o: { packageName: string }): Promise<{ nodeModules: Module[] }> };
    };
    interface Module { name: string; dependencies?: Module[] }
    const { TmpDir } = fromBuilder('temp-file') as { TmpDir: new (name: string) => { cleanup(): Promise<void> } };
    const tmp = new TmpDir('relaypacs-collector');
    try {
      const { nodeModules } = await getCollectorByPackageManager(PM.NPM, root, tmp).getNodeModules({ packageName: 'relaypacs' });
      const packed = new Set<string>();
      const walk = (list: Module[] | undefined): void => { for (const m of list ?? []) { packed.add(m.name); walk(m.dependencies); } };
      walk(nodeModules);

      const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
      const relayPkg = JSON.parse(readFileSync(join(root, 'server/package.json'), 'utf8')) as { name: string; dependencies: Record<string, string> };
      const relayOnly = Object.keys(relayPkg.dependencies).filter((name) => !(name in rootPkg.dependencies));
      expect(relayOnly).toEqual(expect.arrayContaining(['fastify', '@node-rs/argon2', 'jose']));
      expect(relayOnly.filter((name) => packed.has(name))).toEqual([]);
      expect(packed.has(relayPkg.name)).toBe(false);
      expect(packed.has('@relaypacs/testkit')).toBe(false);
      // What the desktop needs at run time is there.
      for (const name of Object.keys(rootPkg.dependencies)) expect(packed.has(name), name).toBe(true);
    } finally {
      await tmp.cleanup();
    }
  });
});
