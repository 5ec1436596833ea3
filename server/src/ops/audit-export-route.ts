import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import { ADMIN_ROLES } from '../auth/roles.js';
import { ERROR_RESPONSES } from '../http/route-responses.js';
import { RELAY_SERVICES_PLUGIN } from '../http/services-plugin.js';
import type { AuditRow } from '../store/audit-store.js';

const AuditQuery = Type.Object({
  format: Type.Optional(Type.Union([Type.Literal('json'), Type.Literal('csv')])),
  since: Type.Optional(Type.String({ format: 'date-time' })),
}, { additionalProperties: false });

/** One audit row as stored (store/audit-store.ts AuditRow), for the JSON export. */
const AuditEntry = Type.Object({
  id: Type.Integer(),
  at: Type.String(),
  actor_user_id: Type.Union([Type.Integer(), Type.Null()]),
  action: Type.String(),
  target: Type.Union([Type.String(), Type.Null()]),
  address: Type.Union([Type.String(), Type.Null()]),
  outcome: Type.String(),
});

/** JSON ({entries}) by default, or CSV (RFC 4180) with ?format=csv: a string the serializer leaves alone. */
const AuditExport = Type.Union([Type.Object({ entries: Type.Array(AuditEntry) }), Type.String({ description: 'text/csv' })]);

const COLUMNS: (keyof AuditRow)[] = ['id', 'at', 'actor_user_id', 'action', 'target', 'address', 'outcome'];

/** GET /admin/audit?format=csv|json&since=ISO: the audit trail for admins, as a download. */
const registerAuditExportRoute: FastifyPluginAsyncTypebox = async (app) => {
  const { audit, guards } = app.services;
  app.get('/admin/audit', {
    schema: { querystring: AuditQuery, response: { 200: AuditExport, ...ERROR_RESPONSES } },
    onRequest: guards.requireUser(ADMIN_ROLES),
  }, async (request, reply) => {
    const rows = await audit.since(request.query.since);
    if (request.query.format === 'csv') {
      void reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="relaypacs-audit.csv"');
      return [COLUMNS.join(','), ...rows.map((row) => COLUMNS.map((c) => csvField(row[c])).join(','))].join('\r\n') + '\r\n';
    }
    return { entries: rows };
  });
};

/** RFC 4180 quoting; a leading = + - @ is prefixed so spreadsheets never run it as a formula. */
function csvField(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = String(value);
  if (/^[=+\-@]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const auditExportRoute = fp(registerAuditExportRoute, { name: 'audit-export-route', dependencies: [RELAY_SERVICES_PLUGIN] });
