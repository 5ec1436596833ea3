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
  /** A connection silent for this long is closed, and so is one whose message takes longer than this to arrive whole. */
  idleTimeoutSeconds: number;
  maxConnections: number;
  /**
   * Match a message that names no Study Instance UID by its accession number (OBR-18, OBR-3).
   * Accession numbers are unique within one RIS only: a study from elsewhere (a CD) may carry the
   * same one. Off unless set; a number that matches uploads of more than one study is refused (AE).
   */
  matchAccessionNumbers: boolean;
  /** Client addresses allowed to connect (the RIS's interface engine); empty: any that reaches the bound address. */
  allowFrom: readonly string[];
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
 * DCM 113014), or else (matchAccessionNumbers) of its accession number (OBR-18, OBR-3) as the study's instances carried it, recorded as an 'hl7' report of each upload of that study (its text kept as the
 * content), told as a `report` event, and acknowledged (AA) only once that is durable. A message
 * sent again (same MSH-3, MSH-4 and MSH-10) is acknowledged and not counted twice; an order status
 * that carries no report (OBR-25 O, I, S, X) is acknowledged and ignored. What cannot be used is answered
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
    // MLLP has no authentication of its own: only the configured senders are served.
    if (this.options.allowFrom.length > 0 && !this.options.allowFrom.includes(normalizeAddress(socket.remoteAddress ?? ''))) {
      this.options.log()?.warn({ address: socket.remoteAddress }, 'HL7 connection from an address not allowed; closed');
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const limitMs = this.options.idleTimeoutSeconds * 1000;
    socket.setTimeout(limitMs, () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      clearTimeout(messageDeadline);
    });
    socket.on('error', () => socket.destroy());
    const decoder = new MllpDecoder(this.options.maxMessageBytes);
    // A message must arrive whole within the limit, however slowly it drips (the idle timer alone
    // restarts with every byte).
    let messageDeadline: NodeJS.Timeout | undefined;
    socket.on('data', (chunk: Buffer) => {
      let messages: Buffer[];
      try {
        messages = decoder.push(chunk);
      } catch (error) {
        if (error instanceof MllpFrameTooLarge) this.options.log()?.warn({ limit: this.options.maxMessageBytes }, 'HL7 message too large; connection closed');
        socket.destroy();
        return;
      }
      if (decoder.inMessage && !messageDeadline) messageDeadline = setTimeout(() => socket.destroy(), limitMs);
      if (!decoder.inMessage) {
        clearTimeout(messageDeadline);
        messageDeadline = undefined;
      }
      if (messages.length === 0) return;
      // MLLP is a message, then its ACK: nothing more is read while these are handled, so a sender
      // that does not wait for its ACKs cannot queue work without bound.
      socket.pause();
      void (async () => {
        for (const message of messages) {
          const ack = await this.handle(message.toString('utf8'));
          if (socket.destroyed) return;
          if (!socket.write(mllpFrame(ack))) await new Promise((resolve) => socket.once('drain', resolve));
        }
        if (!socket.destroyed) socket.resume();
      })();
    });
  }

  private async handle(text: string): Promise<string> {
    const reading = readOru(text);
    if (!reading.ok) {
      this.options.log()?.warn({ reason: reading.reason }, 'HL7 message refused');
      return ackFor(text, reading.reason.includes('not ORU^R01') ? 'AR' : 'AE', reading.reason);
    }
    if (!reading.report) return ackFor(text, 'AA', reading.reason);
    const { report } = reading;
    if (!report.studyInstanceUid && !this.options.matchAccessionNumbers) {
      return ackFor(text, 'AE', 'no Study Instance UID (ZDS-1 or OBX 113014), and matching by accession number is off');
    }
    const { store, events } = this.options;
    try {
      // The Study Instance UID when the message names one; else the accession number the relay kept
      // from the study's instances (UploadsStore.setAccessionNumber).
      const watches = report.studyInstanceUid
        ? await store.reports.watchesOfStudy(report.studyInstanceUid)
        : await store.reports.watchesOfAccession(report.accessionNumber!);
      // An accession number shared by two studies (another RIS's, a CD's) says nothing for sure.
      if (new Set(watches.map((w) => w.studyInstanceUid)).size > 1) return ackFor(text, 'AE', 'the accession number matches more than one study');
      const uploads = new Map(watches.map((w) => [w.uploadId, w]));
      const detectedAt = this.options.now().toISOString();
      const told: (() => void)[] = [];
      for (const watch of uploads.values()) {
        const { id, created } = await store.reports.record({
          uploadId: watch.uploadId, destination: HL7_SOURCE_NAME, userId: watch.userId, studyInstanceUid: watch.studyInstanceUid,
          seriesInstanceUid: null, sopInstanceUid: `hl7:${report.messageKey}`.slice(0, 256), kind: 'hl7', status: report.status, title: null,
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

/** An IPv4 client as Node reports it on a dual-stack socket ("::ffff:10.0.0.5") compared as the plain address. */
function normalizeAddress(address: string): string {
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
