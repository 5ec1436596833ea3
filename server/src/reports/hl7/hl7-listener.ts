import { createServer, type Server, type Socket } from 'node:net';
import type { RelayEventBus } from '../../ops/relay-events.js';
import type { RelayStore } from '../../store/relay-store.js';
import type { ReportStatus } from '../report-classification.js';
import { MllpDecoder, MllpFrameTooLarge, mllpFrame } from './mllp-framing.js';
import { ackFor, readOru } from './oru-report.js';

export interface Hl7ListenerOptions {
  host: string;
  port: number;
  /** A larger message closes its connection (an ORU with a long report is tens of kB). */
  maxMessageBytes: number;
  /** A connection silent for this long is closed. */
  idleTimeoutSeconds: number;
  maxConnections: number;
  store: RelayStore;
  events: RelayEventBus;
  now: () => Date;
  log: () => { info(obj: object, msg: string): void; warn(obj: object, msg: string): void } | undefined;
  onReport?: (status: ReportStatus) => void;
}

/** The name reports learned over HL7 carry as their destination (they come from the RIS, not from one PACS). */
export const HL7_SOURCE_NAME = 'hl7';

/**
 * Reports from a RIS as HL7 v2 ORU^R01 over MLLP, for sites whose reports live there rather than in
 * the PACS. Bound to the configured host and port only; each message is read whole within
 * maxMessageBytes, matched to the delivered studies of its Study Instance UID (ZDS-1, or an OBX of
 * DCM 113014), or else of its accession number (OBR-18, OBR-3) as the study's instances carried it, recorded as an 'hl7' report of each upload of that study (its text kept as the
 * content), told as a `report` event, and acknowledged (AA) only once that is durable. A message
 * sent again (same MSH-10) is acknowledged and not counted twice. What cannot be used is answered
 * AE (malformed, no study named, an unknown result status) or AR (not an ORU^R01), with a reason that names no patient.
 */
export class Hl7Listener {
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, private readonly options: Hl7ListenerOptions) {}

  static async start(options: Hl7ListenerOptions): Promise<Hl7Listener> {
    const server = createServer();
    server.maxConnections = options.maxConnections;
    const listener = new Hl7Listener(server, options);
    server.on('connection', (socket) => listener.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return listener;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.setTimeout(this.options.idleTimeoutSeconds * 1000, () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const decoder = new MllpDecoder(this.options.maxMessageBytes);
    // One message at a time per connection: answers go back in the order the messages came.
    let turn = Promise.resolve();
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        if (error instanceof MllpFrameTooLarge) this.options.log()?.warn({ limit: this.options.maxMessageBytes }, 'HL7 message too large; connection closed');
        socket.destroy();
        return;
      }
      for (const message of messages) {
        turn = turn.then(async () => {
          const ack = await this.handle(message.toString('utf8'));
          if (!socket.destroyed) socket.write(mllpFrame(ack));
        });
      }
    });
  }

  private async handle(text: string): Promise<string> {
    const reading = readOru(text);
    if (!reading.ok) {
      this.options.log()?.warn({ reason: reading.reason }, 'HL7 message refused');
      return ackFor(text, reading.reason.includes('not ORU^R01') ? 'AR' : 'AE', reading.reason);
    }
    const { report } = reading;
    const { store, events } = this.options;
    try {
      // The Study Instance UID when the message names one; else the accession number the relay kept
      // from the study's instances (UploadsStore.setAccessionNumber).
      const watches = report.studyInstanceUid
        ? await store.reports.watchesOfStudy(report.studyInstanceUid)
        : await store.reports.watchesOfAccession(report.accessionNumber!);
      const uploads = new Map(watches.map((w) => [w.uploadId, w]));
      const detectedAt = this.options.now().toISOString();
      const told: (() => void)[] = [];
      for (const watch of uploads.values()) {
        const { id, created } = await store.reports.record({
          uploadId: watch.uploadId, destination: HL7_SOURCE_NAME, userId: watch.userId, studyInstanceUid: watch.studyInstanceUid,
          seriesInstanceUid: null, sopInstanceUid: `hl7:${report.controlId}`, kind: 'hl7', status: report.status, title: null,
          source: 'hl7', detectedAt, content: Buffer.from(report.text, 'utf8'),
        });
        if (created) {
          told.push(() => {
            events.publish(watch.userId, { type: 'report', uploadId: watch.uploadId, reportId: id, destination: HL7_SOURCE_NAME, status: report.status, kind: 'hl7' });
            this.options.onReport?.(report.status);
          });
        }
      }
      // Durable before the sender is told it may forget the message.
      await store.flush();
      for (const tell of told) tell();
      this.options.log()?.info({ matched: uploads.size, status: report.status }, 'HL7 report received');
      return ackFor(text, 'AA', uploads.size === 0 ? 'no delivered study matches' : '');
    } catch (error) {
      this.options.log()?.warn({ err: (error as Error).message }, 'HL7 report could not be recorded');
      return ackFor(text, 'AE', 'the relay could not record the report; send it again');
    }
  }
}
