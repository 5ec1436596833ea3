/**
 * Builds the renderer: desktop/src/renderer → desktop/dist/renderer/{index.html, renderer.js,
 * renderer.css, pdf-pages.js} (+ source maps; pdf-pages.js is the PDF viewer, loaded on demand). One classic deferred script, not an ES module: Chromium refuses
 * module scripts from file:// (an opaque origin), and the window loads the page from disk.
 *
 *   npm run build:renderer              minified production build
 *   npm run build:renderer -- --dev     readable development build (React's development checks)
 *   npm run build:renderer -- --watch   development build, rebuilt on every change
 */
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, context, type BuildOptions } from 'esbuild';

const repoRoot = resolve(import.meta.dirname, '..');
const rendererDir = join(repoRoot, 'desktop/src/renderer');
export const DEFAULT_RENDERER_OUT_DIR = join(repoRoot, 'desktop/dist/renderer');

export interface RendererBuildOptions {
  outDir?: string;
  /** Development build: not minified, React's development checks on. */
  dev?: boolean;
}

export function rendererBuildOptions({ outDir = DEFAULT_RENDERER_OUT_DIR, dev = false }: RendererBuildOptions = {}): BuildOptions {
  return {
    absWorkingDir: repoRoot,
    entryPoints: [
      { in: join(rendererDir, 'main.tsx'), out: 'renderer' },
      { in: join(rendererDir, 'styles/app.css'), out: 'renderer' },
      // pdf.js, loaded only when a PDF report is opened (renderer/lib/pdf-pages-entry.ts).
      { in: join(rendererDir, 'lib/pdf-pages-entry.ts'), out: 'pdf-pages' },
    ],
    outdir: outDir,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    // Electron 45 ships Chromium 142; the browser e2e harness runs a current Chromium.
    target: ['chrome130'],
    tsconfig: join(repoRoot, 'tsconfig.renderer.json'),
    jsx: 'automatic',
    minify: !dev,
    sourcemap: 'linked',
    define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
    legalComments: 'eof',
    logLevel: 'warning',
  };
}

/** Builds into outDir (emptied first) and copies index.html beside the bundle. */
export async function buildRenderer(options: RendererBuildOptions = {}): Promise<string> {
  const outDir = options.outDir ?? DEFAULT_RENDERER_OUT_DIR;
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build(rendererBuildOptions({ ...options, outDir }));
  await copyFile(join(rendererDir, 'index.html'), join(outDir, 'index.html'));
  return outDir;
}

async function main(argv: string[]): Promise<void> {
  const dev = argv.includes('--dev') || argv.includes('--watch');
  const outDir = await buildRenderer({ dev });
  console.log(`renderer built in ${outDir}${dev ? ' (development)' : ''}`);
  if (argv.includes('--watch')) {
    const ctx = await context(rendererBuildOptions({ outDir, dev: true }));
    await ctx.watch();
    console.log('watching desktop/src/renderer for changes (Ctrl+C to stop)');
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
