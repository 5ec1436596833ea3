import { Type, type Static } from 'typebox';

/**
 * Reports of delivered studies (docs/relay.md, "Reports"): what the relay found in a destination's
 * PACS. Ids, UIDs, codes and states only; the content is behind GET /reports/{id}/content.
 */
export const ReportView = Type.Object({
  id: Type.Integer(),
  uploadId: Type.String(),
  destination: Type.String(),
  studyInstanceUid: Type.String(),
  status: Type.Union([Type.Literal('preliminary'), Type.Literal('final'), Type.Literal('amended')]),
  kind: Type.Union([Type.Literal('sr'), Type.Literal('pdf'), Type.Literal('cda'), Type.Literal('hl7')]),
  /** The document title's meaning (a code meaning, e.g. "CT Report"). */
  title: Type.Union([Type.String(), Type.Null()]),
  source: Type.String(),
  detectedAt: Type.String(),
  /** False once the relay's retention dropped the content: read it in the PACS. */
  contentAvailable: Type.Boolean(),
});
export type ReportView = Static<typeof ReportView>;

export const ReportList = Type.Object({ reports: Type.Array(ReportView) });
export type ReportList = Static<typeof ReportList>;

export const ReportIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9]{1,15}$' }) });
export const ReportListQuery = Type.Object({
  /** Reports detected after this instant (ISO 8601), newest first. */
  since: Type.Optional(Type.String({ format: 'date-time' })),
  /** Reports with an id above this one, oldest first: how a client catches up, page by page, without skipping any. */
  after: Type.Optional(Type.String({ pattern: '^[0-9]{1,15}$' })),
  limit: Type.Optional(Type.String({ pattern: '^[0-9]{1,4}$' })),
});

/** GET /reports/{id}/content: the document itself (text/plain for SR and HL7, application/pdf, text/xml for CDA); sent as bytes, never serialized. */
export const ReportContentBody = Type.Unsafe<Buffer>(Type.String({ description: 'the report, in its own media type' }));
