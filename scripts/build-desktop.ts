// `npm run build:desktop`: bundles the Electron main process and the preload with esbuild into
// desktop/dist/main/main.js (ES module; package.json "main") and desktop/dist/preload/preload.cjs.
// The renderer has its own build (desktop/dist/renderer). Native modules and electron itself stay
// outside the bundle: they are loaded from node_modules at run time (electron-builder packs them,
// rebuilt for Electron's ABI).
//
// The sandboxed preload must be one CommonJS file whose only import is `electron` (a sandboxed
// preload has no Node module system, only Electron's sandbox modules): it is built for the browser
// platform, so a Node built-in creeping into it fails the build, and the result is checked below.
import { mkdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { builtinModules } from 'node:module';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';

const root = join(import.meta.dirname, '..');

/**
 * Loaded from node_modules at run time: Electron itself and the native (.node) modules. Everything else
 * is bundled, electron-updater included: it is plain JavaScript, and its require('electron') calls (made
 * lazily, inside functions) go through the banner's require to the external electron. Imported from an
 * ES module of a "type": "module" package, its default import is its module.exports (esbuild's Node
 * interop), as under Node itself.
 */
export const MAIN_EXTERNALS = ['electron', 'better-sqlite3', '@napi-rs/keyring', 'fsevents'] as const;

export interface DesktopBuild {
  main: string;
  preload: string;
  /** Bare module names each bundle still imports at run time. */
  mainImports: string[];
  preloadImports: string[];
}

export async function buildDesktop(options: { outDir?: string; minify?: boolean } = {}): Promise<DesktopBuild> {
  const outDir = options.outDir ?? join(root, 'desktop', 'dist');
  const main = join(outDir, 'main', 'main.js');
  const preload = join(outDir, 'preload', 'preload.cjs');
  await rm(join(outDir, 'main'), { recursive: true, force: true });
  await rm(join(outDir, 'preload'), { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  const common = { bundle: true, sourcemap: 'linked', minify: options.minify ?? false, metafile: true, logLevel: 'warning', legalComments: 'eof', absWorkingDir: root } as const;
  const [mainResult, preloadResult] = await Promise.all([
    build({
      ...common,
      entryPoints: [join(root, 'desktop/src/main/main.ts')],
      outfile: main,
      platform: 'node',
      format: 'esm',
      // Electron 45's Node.
      target: 'node22',
      external: [...MAIN_EXTERNALS],
      // Bundled CommonJS dependencies call require(); an ES module has none of its own.
      banner: { js: "import { createRequire as __relaypacsCreateRequire } from 'node:module'; const require = __relaypacsCreateRequire(import.meta.url);" },
    }),
    build({
      ...common,
      entryPoints: [join(root, 'desktop/src/preload/preload.ts')],
      outfile: preload,
      platform: 'browser',
      format: 'cjs',
      // Electron 45's Chromium.
      target: 'chrome140',
      external: ['electron'],
    }),
  ]);
  const result = { main, preload, mainImports: externalImports(mainResult.metafile), preloadImports: externalImports(preloadResult.metafile) };
  const strayPreloadImports = result.preloadImports.filter((name) => name !== 'electron');
  if (strayPreloadImports.length > 0) throw new Error(`the sandboxed preload may import only electron, but imports ${strayPreloadImports.join(', ')}`);
  const builtins = new Set(builtinModules);
  const strayMainImports = result.mainImports.filter((name) => !name.startsWith('node:') && !builtins.has(name) && !isExternalPackage(name));
  if (strayMainImports.length > 0) throw new Error(`main imports packages left out of the bundle that are not in MAIN_EXTERNALS: ${strayMainImports.join(', ')}`);
  return result;
}

function isExternalPackage(name: string): boolean {
  return MAIN_EXTERNALS.some((external) => name === external || name.startsWith(`${external}/`));
}

function externalImports(metafile: Metafile): string[] {
  const names = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imported of output.imports) if (imported.external) names.add(imported.path);
  }
  return [...names].sort();
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await buildDesktop({ minify: process.argv.includes('--minify') });
  console.log(`build:desktop: ${relative(root, result.main)} (imports ${result.mainImports.join(', ')}), ${relative(root, result.preload)} (imports ${result.preloadImports.join(', ')})`);
}
