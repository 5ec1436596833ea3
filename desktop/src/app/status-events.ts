import type { EventChannel, EventChannels, QueueItem, StatusSummary } from '../common/ipc-contract.js';

export type EventListener = (channel: EventChannel, payload: EventChannels[EventChannel]) => void;

export interface StatusEventsOptions {
  /** The queue as the screens show it (may throw: the database is read). */
  queue: () => QueueItem[];
  /** Whether someone is signed in, and whether the relay answers. */
  state: () => { signedIn: boolean; online: boolean };
  /** True once the API is closing: no more queue or status events. */
  closed: () => boolean;
  /** queue:changed at most this often while uploads report progress. */
  intervalMs: number;
  log: (message: string) => void;
}

/**
 * The desktop API's event source: listeners of every channel, queue:changed throttled while uploads
 * report progress (status:changed with it), and status:changed only when the summary changes.
 */
export class StatusEvents {
  private readonly listeners = new Set<EventListener>();
  private queueTimer: NodeJS.Timeout | undefined;
  private queueDueAt = 0;
  private lastStatus = '';

  constructor(private readonly options: StatusEventsOptions) {}

  on<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void {
    return this.onEvent((name, payload) => {
      if (name === channel) listener(payload as EventChannels[E]);
    });
  }

  onEvent(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit<E extends EventChannel>(channel: E, payload: EventChannels[E]): void {
    for (const listener of this.listeners) {
      try {
        listener(channel, payload);
      } catch (error) {
        this.options.log(`a listener of ${channel} failed (${error instanceof Error ? error.name : 'error'})`);
      }
    }
  }

  /**
   * queue:changed (and status:changed with it) at most every intervalMs while uploads report
   * progress; `now` for changes a person made, which should show at once.
   */
  queueChanged(now = false): void {
    if (this.options.closed()) return;
    if (now) {
      clearTimeout(this.queueTimer);
      this.queueTimer = undefined;
      this.emitQueue();
      return;
    }
    if (this.queueTimer) return;
    const wait = Math.max(0, this.queueDueAt - performance.now());
    this.queueTimer = setTimeout(() => {
      this.queueTimer = undefined;
      this.emitQueue();
    }, wait);
  }

  /** status:changed, when the summary differs from the last one sent. */
  emitStatus(queue?: QueueItem[]): void {
    if (this.options.closed()) return;
    let status: StatusSummary;
    try {
      status = this.status(queue);
    } catch {
      return;
    }
    const text = JSON.stringify(status);
    if (text === this.lastStatus) return;
    this.lastStatus = text;
    this.emit('status:changed', status);
  }

  status(queue: QueueItem[] = this.options.queue()): StatusSummary {
    const { signedIn, online } = this.options.state();
    return summariseStatus(queue, signedIn, online);
  }

  /** Drops the pending queue event and every listener. */
  dispose(): void {
    clearTimeout(this.queueTimer);
    this.listeners.clear();
  }

  private emitQueue(): void {
    if (this.options.closed()) return;
    this.queueDueAt = performance.now() + this.options.intervalMs;
    let queue: QueueItem[];
    try {
      queue = this.options.queue();
    } catch (error) {
      this.options.log(`the queue could not be read (${error instanceof Error ? error.name : 'error'})`);
      return;
    }
    this.emit('queue:changed', queue);
    this.emitStatus(queue);
  }
}

/** The status bar's summary of the queue, the session and the relay's connectivity. */
export function summariseStatus(queue: readonly QueueItem[], signedIn: boolean, online: boolean): StatusSummary {
  const count = (states: readonly string[]) => queue.filter((item) => states.includes(item.state)).length;
  const queued = count(['queued']);
  const sending = count(['uploading', 'completing', 'forwarding']);
  const failed = count(['failed']);
  // Attention: something failed, or studies wait for something only a person can fix.
  const blocked = queue.some((item) => item.state === 'queued' && (item.error?.code === 'SESSION_EXPIRED' || item.error?.code === 'NOT_ALLOWED'));
  const attention = failed > 0 || blocked || (!signedIn && queued + sending > 0) || (signedIn && !online && queued + sending > 0);
  return {
    online, signedIn,
    activity: attention ? 'attention' : sending > 0 ? 'sending' : 'idle',
    queued, sending, failed,
  };
}
