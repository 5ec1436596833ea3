import { useEffect, useRef, useState } from 'react';
import type { HistoryItem, ReportContent } from '../../../common/ipc-contract';
import { ErrorAlert } from '../../components/error-alert';
import { invoke, toApiError, type ApiError } from '../../lib/api-client';
// Its type only: the function itself comes with pdf-pages.js, loaded when a PDF is opened.
import type { drawPdfPages as drawPdfPagesType } from '../../lib/pdf-pages';
import { formatDateTime, formatPersonName } from '../../lib/format';
import { REPORT_STATUS_LABELS } from '../../lib/labels';

type DrawPdfPages = typeof drawPdfPagesType;

/**
 * The PDF viewer (pdf-pages.js, pdf.js inside): a script of the app's own, added to the page the
 * first time a PDF is opened, so the app does not load a megabyte of pdf.js at every start.
 */
function pdfDrawer(): Promise<DrawPdfPages> {
  const holder = window as unknown as { relaypacsPdf?: { drawPdfPages: DrawPdfPages } };
  if (holder.relaypacsPdf) return Promise.resolve(holder.relaypacsPdf.drawPdfPages);
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    script.src = './pdf-pages.js';
    script.onload = () => (holder.relaypacsPdf ? resolve(holder.relaypacsPdf.drawPdfPages) : reject(new Error('the PDF viewer did not load')));
    script.onerror = () => reject(new Error('the PDF viewer could not be loaded'));
    document.head.append(script);
  });
}

/** Page width the PDF is drawn at, in CSS pixels (the dialog's reading width). */
const PDF_WIDTH = 760;

/**
 * A report read in the app: the relay's text of an SR, or a PDF drawn by pdf.js (pdf-pages.ts).
 * A modal dialog over the history; Escape or Close returns to it. The relay audits each read.
 */
export function ReportViewer({ item, onClose }: { item: HistoryItem; onClose(): void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const pages = useRef<HTMLDivElement>(null);
  const [content, setContent] = useState<ReportContent | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [drawing, setDrawing] = useState(false);
  const report = item.report!;

  useEffect(() => {
    dialog.current?.showModal();
    let current = true;
    invoke('reports:content', { reportId: report.reportId }).then((loaded) => current && setContent(loaded), (e: unknown) => current && setError(toApiError(e)));
    return () => {
      current = false;
    };
  }, [report.reportId]);

  useEffect(() => {
    if (content?.format !== 'pdf' || !pages.current) return;
    const container = pages.current;
    container.replaceChildren();
    setDrawing(true);
    const closed = new AbortController();
    void pdfDrawer().then((drawPdfPages) => drawPdfPages(Uint8Array.from(atob(content.base64), (c) => c.charCodeAt(0)), container, PDF_WIDTH, closed.signal))
      .catch((e: unknown) => !closed.signal.aborted && setError(toApiError(e)))
      .finally(() => !closed.signal.aborted && setDrawing(false));
    return () => closed.abort();
  }, [content]);

  return (
    <dialog ref={dialog} className="report-dialog" aria-labelledby="report-title" onClose={onClose}>
      <header className="report-header">
        <div>
          <h2 id="report-title">{report.title ?? 'Report'}</h2>
          <p className="muted">
            {formatPersonName(item.patientName)} · {item.description || 'Study'} · <span className={`badge badge-report-${report.status}`}>{REPORT_STATUS_LABELS[report.status]}</span> · found{' '}
            {formatDateTime(report.detectedAt)}
          </p>
        </div>
        <button type="button" onClick={() => dialog.current?.close()}>
          Close
        </button>
      </header>
      {error ? <ErrorAlert error={error} /> : null}
      {!content && !error ? <p role="status">Loading the report…</p> : null}
      {content?.format === 'text' ? <pre className="report-text">{content.text}</pre> : null}
      {content?.format === 'pdf' ? (
        <>
          {drawing ? <p role="status">Drawing the report…</p> : null}
          <div ref={pages} className="report-pages" />
        </>
      ) : null}
    </dialog>
  );
}
