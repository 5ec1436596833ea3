// `npm run build:renderer`: one page, one classic script, one stylesheet, under a strict CSP.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildRenderer } from '../build-renderer.js';

let outDir: string;

beforeAll(async () => {
  outDir = await buildRenderer({ outDir: join(await mkdtemp(join(tmpdir(), 'relaypacs-renderer-')), 'renderer') });
});
afterAll(async () => {
  await rm(join(outDir, '..'), { recursive: true, force: true });
});

it('writes index.html, renderer.js, renderer.css and the PDF viewer pdf-pages.js with their source maps', async () => {
  expect((await readdir(outDir)).sort()).toEqual(['index.html', 'pdf-pages.js', 'pdf-pages.js.map', 'renderer.css', 'renderer.css.map', 'renderer.js', 'renderer.js.map']);
});

it('loads only its own files under a strict content-security policy, with no inline script or style', async () => {
  const html = await readFile(join(outDir, 'index.html'), 'utf8');
  const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  expect(csp).toBe("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'none'; base-uri 'none'; form-action 'none'");
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
  expect(scripts.map((s) => [s[1]?.trim(), s[2]?.trim()])).toEqual([['defer src="./renderer.js"', '']]);
  expect(html).not.toMatch(/<style\b|\sstyle=/);
  expect(html).toContain('<link rel="stylesheet" href="./renderer.css" />');
});

it('is a minified production bundle that needs no module loader and no Node', async () => {
  const js = await readFile(join(outDir, 'renderer.js'), 'utf8');
  // React's development checks are gone (NODE_ENV is defined away); a classic script that file://
  // and app:// both run: no import statements, no require.
  expect(js).not.toContain('process.env.NODE_ENV');
  expect(js).not.toContain('unique "key" prop');
  expect(js).not.toMatch(/\bimport\s*\(|^import\s|\brequire\(/m);
  expect(js.length).toBeLessThan(600_000);
  expect(js).toContain('//# sourceMappingURL=renderer.js.map');
  // pdf.js is not in it: the PDF viewer is its own script, loaded when a PDF report is opened.
  expect(js).not.toContain('pdfjsWorker');
  const pdf = await readFile(join(outDir, 'pdf-pages.js'), 'utf8');
  expect(pdf).toContain('relaypacsPdf');
  expect(pdf).not.toMatch(/^import\s|\brequire\(/m);
  const css = await readFile(join(outDir, 'renderer.css'), 'utf8');
  // Dark follows the system (color-scheme: light dark) through light-dark() colours.
  expect(css).toContain('color-scheme:light dark');
  expect(css).toContain('light-dark(');
  expect(css).toContain(':focus-visible');
});
