/** pdf.js's worker module, bundled to run on the page's thread (lib/pdf-pages.ts); it ships no types. */
declare module 'pdfjs-dist/build/pdf.worker.mjs' {
  export const WorkerMessageHandler: unknown;
}
