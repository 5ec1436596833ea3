/**
 * PDF reports drawn on canvases with pdf.js, inside the sandboxed renderer: no plugin, no new
 * window, no navigation. pdf.js runs on the page's own thread (its "fake worker", fed the worker
 * module bundled here): the page is loaded from disk, where a Worker script cannot be started, and
 * the strict CSP allows no other script. Evaluation of PDF functions through eval is off.
 */
import { getDocument } from 'pdfjs-dist';
import * as pdfWorker from 'pdfjs-dist/build/pdf.worker.mjs';

(globalThis as { pdfjsWorker?: unknown }).pdfjsWorker = pdfWorker;

/** Pages drawn at most: a report is a few pages; a huge document is read in the PACS. */
const MAX_PAGES = 50;
/** Pixels of one page's canvas at most (a page drawn very tall and thin must not take gigabytes). */
const MAX_CANVAS_PIXELS = 16 * 1024 * 1024;

/** Draws every page (up to MAX_PAGES) into `container`, one canvas each; answers the page count. */
export async function drawPdfPages(bytes: Uint8Array, container: HTMLElement, cssWidth: number, signal?: AbortSignal): Promise<number> {
  const document = await getDocument({ data: bytes, isEvalSupported: false, enableXfa: false, useSystemFonts: true }).promise;
  try {
    const pages = Math.min(document.numPages, MAX_PAGES);
    for (let number = 1; number <= pages; number++) {
      // The dialog closed: stop drawing (the document is destroyed below).
      if (signal?.aborted) break;
      const page = await document.getPage(number);
      const base = page.getViewport({ scale: 1 });
      const scale = cssWidth / base.width;
      const pixelRatio = globalThis.devicePixelRatio || 1;
      const wanted = scale * pixelRatio;
      const bound = Math.sqrt(MAX_CANVAS_PIXELS / Math.max(1, base.width * base.height));
      const viewport = page.getViewport({ scale: Math.min(wanted, bound) });
      const canvas = container.ownerDocument.createElement('canvas');
      canvas.width = Math.floor(viewport.width);
      canvas.height = Math.floor(viewport.height);
      canvas.style.width = `${Math.min(cssWidth, Math.floor(viewport.width / pixelRatio))}px`;
      canvas.setAttribute('role', 'img');
      canvas.setAttribute('aria-label', `Page ${number} of ${document.numPages}`);
      container.append(canvas);
      await page.render({ canvas, viewport }).promise;
    }
    return document.numPages;
  } finally {
    await document.destroy();
  }
}
