// Follows a study the relay accepted until every instance is final, writing each instance's state to the catalog as it changes.
import type { InitUploadResponse, UploadStatus } from '../../../../server/src/protocol/upload-protocol.js';
import type { RelayClient } from './relay-client.js';
import type { UploadEventSource } from './relay-event-stream.js';

/** Where the relay's view of each instance of a job is written. */
export interface InstanceProgressStore {
  setInstanceProgress(jobId: number, sopInstanceUid: string, bytesSent: number, state: string, reason: string | null): void;
}

export interface DeliveryFollowerOptions {
  client: Pick<RelayClient, 'status'>;
  instances: InstanceProgressStore;
  /** Runs one status's writes as one transaction. */
  transaction: (write: () => void) => void;
  /** As UploadEngineOptions: events, pollIntervalMs, connectedPollIntervalMs. */
  events?: UploadEventSource;
  pollIntervalMs?: number;
  connectedPollIntervalMs?: number;
}

const FINAL_DELIVERY_STATES = ['delivered', 'confirmed', 'failed', 'not-sent', 'unrouted'];

export class DeliveryFollower {
  /** Per job being followed, what record() last wrote of each instance (by SOP Instance UID). */
  private readonly recorded = new Map<number, Map<string, string>>();

  constructor(private readonly options: DeliveryFollowerOptions) {}

  /**
   * Follows an accepted study until every instance is final. The status endpoint is the truth; the
   * relay's event stream only says when to ask: an event of this upload, or the stream coming up
   * (the relay does not replay what was missed while it was down), fetches the status at once.
   * While the stream is up a slow poll is the safety net; while it is down or absent, status is
   * polled every `pollIntervalMs` as without it.
   */
  async follow(jobId: number, init: Pick<InitUploadResponse, 'uploadId' | 'uploadToken'>, status: UploadStatus): Promise<UploadStatus> {
    const finished = (s: UploadStatus) => s.instances.every((i) => FINAL_DELIVERY_STATES.includes(i.deliveryState));
    if (finished(status)) return status;
    const events = this.options.events;
    // Subscribe, then read: an event that came between /complete's answer and the subscription
    // went to no one, so an already open stream starts with a status fetch (a connecting one
    // fetches when it connects).
    let due = events?.connected ?? false;
    let wake: (() => void) | undefined;
    const unsubscribe = events?.subscribe(init.uploadId, (notice) => {
      if (notice.kind === 'event' || notice.connected) due = true;
      wake?.(); // also on a drop: the wait shortens to pollIntervalMs
    });
    try {
      while (!finished(status)) {
        const since = performance.now();
        while (!due) {
          const interval = events?.connected ? this.options.connectedPollIntervalMs ?? 15_000 : this.options.pollIntervalMs ?? 1000;
          const left = interval - (performance.now() - since);
          if (left <= 0) break;
          await new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, left);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          wake = undefined;
        }
        due = false;
        status = await this.options.client.status(init.uploadId, init.uploadToken);
        this.record(jobId, status);
      }
    } finally {
      unsubscribe?.();
    }
    return status;
  }

  /**
   * Writes what the relay says of each instance to the catalog, only where it changed since the last
   * status of this job: a study of thousands of instances is followed by many status reads, each
   * changing a few of them.
   */
  record(jobId: number, status: UploadStatus): void {
    const known = this.recorded.get(jobId) ?? new Map<string, string>();
    this.recorded.set(jobId, known);
    this.options.transaction(() => {
      for (const instance of status.instances) {
        const reason = instance.rejection?.reason ?? instance.destinations.find((d) => d.reason)?.reason ?? null;
        const state = instance.state === 'rejected' ? 'rejected' : instance.deliveryState;
        const seen = `${instance.receivedBytes} ${state} ${reason ?? ''}`;
        if (known.get(instance.sopInstanceUid) === seen) continue;
        this.options.instances.setInstanceProgress(jobId, instance.sopInstanceUid, instance.receivedBytes, state, reason);
        known.set(instance.sopInstanceUid, seen);
      }
    });
  }

  /** Forgets what was written of a job: its next run (a retry) reads the catalog afresh. */
  forget(jobId: number): void {
    this.recorded.delete(jobId);
  }
}
