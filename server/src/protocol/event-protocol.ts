/**
 * Upload lifecycle events, as GET /events sends them (Server-Sent Events, HTML Living Standard
 * §9.2): the SSE `event:` field is the type, `data:` this object as JSON, `id:` the relay's event id,
 * which a client sends back as Last-Event-ID when it reconnects to get what it missed. Ids and
 * states only: never PHI.
 */
export type RelayEvent =
  | { type: 'received'; uploadId: string; instance: number }
  | { type: 'validated'; uploadId: string; instance: number; ok: boolean; reason?: string }
  | { type: 'accepted'; uploadId: string }
  | { type: 'forwarding'; uploadId: string; instance: number; destinations: string[] }
  | { type: 'delivered'; uploadId: string; instance?: number; destination?: string }
  | { type: 'confirmed'; uploadId: string; instance: number; destination: string }
  | { type: 'failed'; uploadId: string; instance: number; destination: string; reason: string }
  /** A report of the study is in that destination's PACS (GET /upload/{id}/reports, GET /reports/{reportId}/content). */
  | { type: 'report'; uploadId: string; reportId: number; destination: string; status: 'preliminary' | 'final' | 'amended'; kind: 'sr' | 'pdf' | 'cda' | 'hl7' };

/**
 * Sent (as `event: resync`, data `{"type":"resync"}`) first on a stream whose Last-Event-ID asked
 * for events the relay no longer keeps: the client must take each upload's state from its status.
 */
export const RESYNC_EVENT = 'resync';
