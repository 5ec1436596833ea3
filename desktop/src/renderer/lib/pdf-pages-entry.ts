/**
 * The PDF viewer's own bundle (pdf-pages.js, built beside renderer.js): pdf.js is over a megabyte,
 * so it is loaded only when a PDF report is opened (report-viewer.tsx adds this script once), not
 * at every start of the app. A classic script like renderer.js; it hands its one function over on
 * window.
 */
import { drawPdfPages } from './pdf-pages';

(window as unknown as { relaypacsPdf: { drawPdfPages: typeof drawPdfPages } }).relaypacsPdf = { drawPdfPages };
