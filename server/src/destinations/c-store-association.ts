import { connect, type Socket } from 'node:net';
import dimse from 'dcmjs-dimse';
import type { Dataset, association as dimseAssociation, responses } from 'dcmjs-dimse';
import { normalizeUid } from '@relaypacs/dicom';
import { TransientDestinationError } from '../forward/destination.js';

const { Scp } = dimse;
const { CStoreRequest } = dimse.requests;
const { PresentationContextResult, Priority, Status } = dimse.constants;

type Association = dimseAssociation.Association;
type CStoreResponse = responses.CStoreResponse;

/** PS3.8 §9.3.2.2: presentation context IDs are odd numbers 1–255, so at most 128 per association. */
export const MAX_PRESENTATION_CONTEXTS = 128;

export interface AssociationTarget {
  host: string;
  port: number;
  callingAet: string;
  calledAet: string;
  /** TCP connect. */
  connectTimeoutMs: number;
  /** From connected to the A-ASSOCIATE-AC/RJ answer (PS3.8 ARTIM timer, §9.1.5). */
  associationTimeoutMs: number;
  /** Longest silence from the peer while a C-STORE or the release is outstanding. */
  responseTimeoutMs: number;
}

export interface ProposedContext {
  sopClassUid: string;
  transferSyntaxUids: readonly string[];
}

/**
 * A-ASSOCIATE-RJ (PS3.8 §9.3.4, Table 9-21). It is still thrown as a TransientDestinationError: even
 * "rejected-permanent" (e.g. called AE title not recognised) is a configuration fault at one end or
 * the other, not a fault of the instances, so the study waits and is retried once it is fixed
 * rather than being failed for good. `permanent` lets status pages say "fix the configuration".
 */
export class AssociationRejectedError extends TransientDestinationError {
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly source: number,
    readonly reason: number,
    retryAfterSeconds?: number,
  ) {
    super(message, retryAfterSeconds);
    this.name = 'AssociationRejectedError';
  }
}

/** Failed while connected: A-ABORT, a reset, a timeout. Instances without an answer may or may not be stored. */
export class AssociationLostError extends TransientDestinationError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, undefined, options);
    this.name = 'AssociationLostError';
  }
}

/**
 * dcmjs-dimse exports its network layer (PDUs, DIMSE messages, transcoding, timeouts) only as the
 * base of its SCP class; its Client would load every request's data set before the association
 * opens. Used as an SCU the SCP hooks never fire, except the ones overridden here to behave as an
 * SCU must: an SCU never accepts an association, and a peer A-ABORT is handled by the listener.
 */
class ScuNetwork extends Scp {
  override associationRequested(): void {
    this.sendAssociationReject();
  }

  override associationReleaseRequested(): void {
    this.sendAssociationReleaseResponse();
  }

  override abort(): void {
    // Handled by StoreAssociation's 'abort' listener.
  }
}

/** What a peer's A-ASSOCIATE-RJ means (PS3.8 Table 9-21), in words an administrator can act on. */
function describeRejection(source: number, reason: number): string {
  if (source === 1) {
    switch (reason) {
      case 2: return 'application context name not supported';
      case 3: return 'calling AE title not recognised: the PACS does not know the relay\'s AE title (add it on the PACS or fix callingAet)';
      case 7: return 'called AE title not recognised: the PACS does not answer to this AE title (fix calledAet)';
      default: return 'no reason given';
    }
  }
  if (source === 2) return reason === 2 ? 'protocol version not supported' : 'no reason given (ACSE service provider)';
  if (source === 3) return reason === 1 ? 'temporary congestion' : reason === 2 ? 'local limit exceeded (too many associations)' : 'no reason given (presentation service provider)';
  return `source ${source}, reason ${reason}`;
}

/**
 * One association to a Storage SCP: negotiated once, then C-STORE requests one at a time (no
 * asynchronous operations window, PS3.7 §D.3.3.3), then released. Errors carry host, port and AE
 * titles, never anything from the data sets.
 */
export class StoreAssociation {
  private lost: AssociationLostError | undefined;
  private readonly lostListeners = new Set<(error: AssociationLostError) => void>();
  private released = false;

  private constructor(
    private readonly target: AssociationTarget,
    private readonly socket: Socket,
    private readonly network: ScuNetwork,
    private readonly association: Association,
  ) {
    network.on('abort', ({ source, reason }: { source: number; reason: number }) => {
      this.markLost(new AssociationLostError(`${this.peer} aborted the association (A-ABORT source ${source}, reason ${reason})`));
    });
    network.on('networkError', (error: Error) => {
      this.markLost(new AssociationLostError(`the connection to ${this.peer} failed: ${error.message}`, { cause: error }));
    });
    network.on('close', () => {
      if (!this.released) this.markLost(new AssociationLostError(`${this.peer} closed the connection`));
    });
  }

  /** Connects and negotiates; throws TransientDestinationError (or AssociationRejectedError) if that fails. */
  static async open(target: AssociationTarget, contexts: readonly ProposedContext[]): Promise<StoreAssociation> {
    if (contexts.length === 0 || contexts.length > MAX_PRESENTATION_CONTEXTS) {
      throw new RangeError(`an association needs 1 to ${MAX_PRESENTATION_CONTEXTS} presentation contexts, got ${contexts.length}`);
    }
    // dcmjs-dimse logs every PDU, association details included, at trace level to the console. The
    // relay reports what happened through outcomes and errors instead, so the library stays quiet.
    dimse.log.setLevel('silent');
    const association = new dimse.association.Association(target.callingAet, target.calledAet);
    for (const context of contexts) {
      const id = association.addPresentationContext(context.sopClassUid);
      for (const syntax of context.transferSyntaxUids) association.addTransferSyntaxToPresentationContext(id, syntax);
    }

    const peer = `${target.calledAet}@${target.host}:${target.port}`;
    const socket = connect({ host: target.host, port: target.port });
    const network = new ScuNetwork(socket, {
      // dcmjs-dimse uses connectTimeout as the socket's idle timeout once connected.
      connectTimeout: target.responseTimeoutMs,
      associationTimeout: target.associationTimeoutMs,
      pduTimeout: target.responseTimeoutMs,
    });

    return new Promise<StoreAssociation>((resolve, reject) => {
      let settled = false;
      const fail = (error: TransientDestinationError) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        socket.destroy();
        reject(error);
      };
      const connectTimer = setTimeout(() => {
        fail(new TransientDestinationError(`could not connect to ${peer} within ${target.connectTimeoutMs} ms`));
      }, target.connectTimeoutMs);

      socket.once('connect', () => {
        clearTimeout(connectTimer);
        network.sendAssociationRequest(association);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        fail(new TransientDestinationError(`could not reach ${peer}: ${error.code ?? error.message}`, undefined, { cause: error }));
      });
      network.once('associationAccepted', () => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        // Some peers pad the accepted UID with a NUL as in a data set (PS3.5 §9.1); dcmjs-dimse matches
        // it against the data set's syntax byte for byte, so keep it the way the data sets name it.
        for (const { context } of association.getPresentationContexts()) {
          const syntax = context.getAcceptedTransferSyntaxUid();
          if (syntax) context.setResult(context.getResult(), normalizeUid(syntax));
        }
        resolve(new StoreAssociation(target, socket, network, association));
      });
      network.once('associationRejected', ({ result, source, reason }: { result: number; source: number; reason: number }) => {
        // PS3.8 Table 9-21: result 1 rejected-permanent, 2 rejected-transient.
        const permanent = result === 1;
        const what = describeRejection(source, reason);
        fail(new AssociationRejectedError(
          `${peer} rejected the association${permanent ? ' permanently' : ' for now'}: ${what}`,
          permanent,
          source,
          reason,
          // A permanent rejection needs someone to change a configuration: no point in retrying soon.
          permanent ? 300 : undefined,
        ));
      });
      network.once('abort', () => fail(new TransientDestinationError(`${peer} aborted the association during negotiation`)));
      network.on('networkError', (error: Error) => fail(new TransientDestinationError(`association with ${peer} failed: ${error.message}`, undefined, { cause: error })));
      network.once('close', () => fail(new TransientDestinationError(`${peer} closed the connection during association negotiation`)));
    });
  }

  private get peer(): string {
    return `${this.target.calledAet}@${this.target.host}:${this.target.port}`;
  }

  /**
   * The transfer syntaxes the peer accepted for a SOP class, one per accepted presentation
   * context (PS3.8 §9.3.3.2), in the order the contexts were proposed.
   */
  acceptedTransferSyntaxes(sopClassUid: string): string[] {
    const accepted: string[] = [];
    for (const { context } of this.association.getPresentationContexts()) {
      if (context.getAbstractSyntaxUid() !== sopClassUid || context.getResult() !== PresentationContextResult.Accept) continue;
      const syntax = context.getAcceptedTransferSyntaxUid();
      if (syntax) accepted.push(normalizeUid(syntax));
    }
    return accepted;
  }

  /** Why the peer accepted no context for a SOP class, for the instance's failure reason. */
  rejectionFor(sopClassUid: string): string {
    const results = this.association.getPresentationContexts()
      .filter(({ context }) => context.getAbstractSyntaxUid() === sopClassUid)
      .map(({ context }) => context.getResultDescription());
    return [...new Set(results)].join(', ') || 'not proposed';
  }

  /** Why the association ended before it was released, if it did. */
  get lostError(): AssociationLostError | undefined {
    return this.lost;
  }

  /**
   * Sends one C-STORE-RQ (PS3.7 §9.1.1) and waits for its response. The data set's transfer
   * syntax must be one the peer accepted for the SOP class; dcmjs-dimse picks that context.
   */
  async store(dataset: Dataset, sopClassUid: string, sopInstanceUid: string, urgent: boolean): Promise<{ status: number; errorComment?: string }> {
    if (this.lost) throw this.lost;
    const request = new CStoreRequest(dataset, urgent ? Priority.High : Priority.Medium);
    request.setAffectedSopClassUid(sopClassUid);
    request.setAffectedSopInstanceUid(sopInstanceUid);
    return new Promise((resolve, reject) => {
      let answered = false;
      const finish = () => {
        this.lostListeners.delete(onLost);
        // dcmjs-dimse keeps every request it sent until the association ends; without its data
        // set, so that an association of many instances holds one at a time, not all of them.
        request.setDataset(new dimse.Dataset());
      };
      const onLost = (error: AssociationLostError) => {
        finish();
        reject(error);
      };
      this.lostListeners.add(onLost);
      request.on('response', (response: CStoreResponse) => {
        if (response.getStatus() === Status.Pending) return;
        answered = true;
        finish();
        resolve({ status: response.getStatus(), errorComment: response.getErrorComment() || undefined });
      });
      request.on('done', () => {
        if (answered) return;
        // dcmjs-dimse ends a request without a response when it could not encode or send it.
        finish();
        reject(new Error(`dcmjs-dimse could not send the C-STORE request to ${this.peer}`));
      });
      this.network.sendRequests(request);
    });
  }

  /** A-RELEASE (PS3.8 §7.2); closes the connection whatever the peer answers. */
  async release(): Promise<void> {
    if (this.lost) {
      this.destroy();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, this.target.responseTimeoutMs);
      function finish() {
        clearTimeout(timer);
        resolve();
      }
      this.network.once('associationReleaseResponse', finish);
      this.network.once('close', finish);
      this.released = true;
      this.network.sendAssociationReleaseRequest();
    });
    this.destroy();
  }

  /** A-ABORT and close, e.g. when the destination is closed with stores in flight. */
  abort(): void {
    if (!this.lost && !this.released && !this.socket.destroyed) {
      this.network.sendAbort();
    }
    this.markLost(new AssociationLostError(`the association with ${this.peer} was aborted by the relay`));
    this.destroy();
  }

  private destroy(): void {
    this.released = true;
    this.socket.destroy();
  }

  private markLost(error: AssociationLostError): void {
    // Once released, a reset or a late error no longer concerns any instance.
    if (this.lost || this.released) return;
    this.lost = error;
    for (const listener of [...this.lostListeners]) listener(error);
    this.socket.destroy();
  }
}
