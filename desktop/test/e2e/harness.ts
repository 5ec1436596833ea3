// The browser harness: the BUILT renderer (scripts/build-renderer.ts output) in Debian's Chromium
// through playwright-core, with `window.api` built by the contract's buildRendererApi and served by
// the real desktop API (desktop/src/app) running in the test process. Invokes travel through a
// Playwright binding, events are pushed into the page; nothing of the core is mocked.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, relative, resolve, sep } from 'node:path';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import type { EventChannel } from '../../src/common/ipc-contract.js';
import type { DesktopApi } from '../../src/app/desktop-api.js';

/** Debian's Chromium (scripts/setup/system-packages.sh installs it). */
export const CHROMIUM_PATH = '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
/** The fixed viewport of every screenshot. */
export const VIEWPORT = { width: 1280, height: 800 } as const;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/**
 * Serves a folder on a free loopback port: GET only, no listing, nothing outside the folder. A
 * real origin (not file://) so the page's CSP 'self' means what it means in the app.
 */
export async function serveFolder(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const base = resolve(root);
  const server = createServer((request, response) => {
    void (async () => {
      const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://localhost').pathname);
      // Chromium asks for a favicon by itself; the app has none (Electron never asks).
      if (pathname === '/favicon.ico') {
        response.writeHead(204).end();
        return;
      }
      const file = resolve(base, `.${pathname === '/' ? '/index.html' : pathname}`);
      const inside = relative(base, file);
      if ((request.method !== 'GET' && request.method !== 'HEAD') || inside.startsWith('..') || inside.includes(`..${sep}`)) {
        response.writeHead(404).end();
        return;
      }
      try {
        const body = await readFile(file);
        response.writeHead(200, { 'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
        response.end(request.method === 'HEAD' ? undefined : body);
      } catch {
        response.writeHead(404).end();
      }
    })();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((done) => {
      server.closeAllConnections();
      server.close(() => done());
    }),
  };
}

/** renderer-api-init.ts bundled for the page: the contract's buildRendererApi over the harness transports. */
export async function rendererApiInitScript(): Promise<string> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, 'renderer-api-init.ts')],
    bundle: true, format: 'iife', platform: 'browser', target: 'chrome130', write: false, logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

export interface RendererHarnessOptions {
  /** The real desktop API the page talks to. */
  api: DesktopApi;
  /** The built renderer: a folder with index.html, renderer.js and renderer.css. */
  rendererDir: string;
  colorScheme?: 'light' | 'dark';
}

export interface RendererHarness {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  url: string;
  /** Uncaught page errors and console errors, for tests to assert there were none. */
  pageErrors: string[];
  close(): Promise<void>;
}

/** Launches Chromium, serves the renderer and opens it with window.api wired to `api`. */
export async function openRenderer(options: RendererHarnessOptions): Promise<RendererHarness> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: install the Debian package chromium (scripts/setup/system-packages.sh)`);
  if (!existsSync(join(options.rendererDir, 'index.html'))) throw new Error(`${options.rendererDir} has no index.html: build the renderer first (npm run build:renderer)`);
  const server = await serveFolder(options.rendererDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  const pageErrors: string[] = [];
  let unsubscribe = () => {};
  try {
    const context = await browser.newContext({ viewport: VIEWPORT, colorScheme: options.colorScheme ?? 'light', reducedMotion: 'reduce' });
    await context.exposeBinding('__relaypacsInvoke', (_source, channel: unknown, request: unknown) => options.api.invoke(String(channel), request));
    await context.addInitScript({ content: await rendererApiInitScript() });
    const page = await context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`pageerror: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    // Every event the core emits goes to the page, as main's webContents.send does in the app.
    unsubscribe = options.api.onEvent((channel: EventChannel, payload: unknown) => {
      page.evaluate(([name, value]) => {
        (globalThis as unknown as { __relaypacsEmit?: (c: unknown, p: unknown) => void }).__relaypacsEmit?.(name, value);
      }, [channel, payload] as const).catch(() => {
        // The page is navigating or closed: the next event reaches it, and screens reload on open.
      });
    });
    await page.goto(server.url);
    return {
      browser, context, page, url: server.url, pageErrors,
      async close() {
        unsubscribe();
        await browser.close();
        await server.close();
      },
    };
  } catch (error) {
    unsubscribe();
    await browser.close();
    await server.close();
    throw error;
  }
}
