import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import type { VerifiedAccess as Principal } from '../auth/token-service.js';
import { RelayError } from '../http/relay-error.js';
import { ERROR_RESPONSES } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import { ReportContentBody, ReportIdParams, ReportList, ReportListQuery, ReportView } from '../protocol/report-protocol.js';
import { UploadIdParams } from '../protocol/upload-protocol.js';
import type { ReportRecord } from '../store/reports-store.js';
import { serveReport } from './report-content.js';

const MAX_LISTED = 500;

const view = (r: ReportRecord): ReportView => ({
  id: r.id, uploadId: r.uploadId, destination: r.destination, studyInstanceUid: r.studyInstanceUid, status: r.status, kind: r.kind,
  title: r.title, source: r.source, detectedAt: r.detectedAt, contentAvailable: r.hasContent,
});

/**
 * Reports of delivered studies. A signed-in user reads the reports of the studies they sent;
 * admins, and the roles in reports.readerRoles, read any. Every read of a report's content is
 * audited. Content answers are never cached (no-store): a report is PHI.
 */
const registerReportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { store, guards, audit, config } = app.services;
  const signedIn = guards.requireUser();
  const readsAll = (principal: Principal) => principal.role === 'admin' || (config.reports.readerRoles as readonly string[]).includes(principal.role);
  const mayRead = (principal: Principal, ownerUserId: number) => principal.userId === ownerUserId || readsAll(principal);

  app.get('/reports', {
    schema: { querystring: ReportListQuery, response: { 200: ReportList, ...ERROR_RESPONSES } },
    onRequest: signedIn,
  }, async (request) => {
    const limit = Math.min(MAX_LISTED, Number(request.query.limit ?? MAX_LISTED) || MAX_LISTED);
    const userId = request.principal!.userId;
    if (request.query.after !== undefined) return { reports: (await store.reports.ofUserAfter(userId, Number(request.query.after), limit)).map(view) };
    const since = request.query.since === undefined ? undefined : new Date(request.query.since).toISOString();
    return { reports: (await store.reports.ofUser(userId, since, limit)).map(view) };
  });

  app.get('/upload/:id/reports', {
    schema: { params: UploadIdParams, response: { 200: ReportList, ...ERROR_RESPONSES } },
    onRequest: signedIn,
  }, async (request) => {
    const upload = await store.uploads.find(request.params.id);
    // Someone else's upload is answered as absent: its existence is not the caller's to learn.
    if (!upload || !mayRead(request.principal!, upload.userId)) throw new RelayError(404, 'UPLOAD_NOT_FOUND');
    return { reports: (await store.reports.ofUpload(upload.id)).map(view) };
  });

  const readable = async (principal: Principal, id: string): Promise<ReportRecord> => {
    const report = await store.reports.find(Number(id));
    if (!report || !mayRead(principal, report.userId)) throw new RelayError(404, 'REPORT_NOT_FOUND');
    return report;
  };

  app.get('/reports/:id', {
    schema: { params: ReportIdParams, response: { 200: ReportView, ...ERROR_RESPONSES } },
    onRequest: signedIn,
  }, async (request) => view(await readable(request.principal!, request.params.id)));

  app.get('/reports/:id/content', {
    schema: { params: ReportIdParams, response: { 200: ReportContentBody, ...ERROR_RESPONSES } },
    onRequest: signedIn,
  }, async (request, reply) => {
    const report = await readable(request.principal!, request.params.id);
    const kept = await store.reports.content(report.id);
    if (!kept) throw new RelayError(410, 'REPORT_CONTENT_GONE');
    const served = await serveReport(report.kind, kept);
    await audit.record({
      action: 'report-read', outcome: 'success', address: request.ip, actorUserId: request.principal!.userId,
      target: `report ${report.id} upload ${report.uploadId} study ${report.studyInstanceUid}`,
    });
    return reply.header('content-type', served.contentType).header('cache-control', 'no-store')
      .header('content-disposition', `inline; filename="report-${report.id}.${report.kind === 'pdf' ? 'pdf' : report.kind === 'cda' ? 'xml' : 'txt'}"`)
      .send(served.body);
  });
};

export const reportRoutes = fp(registerReportRoutes, { name: 'report-routes', dependencies: [RELAY_SERVICES_PLUGIN] });
