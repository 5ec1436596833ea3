// The status bar's summary, and queue:changed throttled while uploads report progress.
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { QueueItem } from '../../src/common/ipc-contract.js';
import { StatusEvents, summariseStatus } from '../../src/app/status-events.js';

const item = (jobId: number, state: QueueItem['state'], error?: QueueItem['error']): QueueItem => ({
  jobId, studyInstanceUid: `1.2.${jobId}`, patientName: '', description: '', serviceLevel: 'ROUTINE', state,
  bytesSent: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null, instanceCount: 1, createdAt: '', updatedAt: '', ...(error ? { error } : {}),
});

describe('summariseStatus', () => {
  it('counts queued, sending and failed jobs, and is idle, sending or needing attention', () => {
    expect(summariseStatus([], true, true)).toEqual({ online: true, signedIn: true, activity: 'idle', queued: 0, sending: 0, failed: 0 });
    expect(summariseStatus([item(1, 'queued'), item(2, 'uploading'), item(3, 'forwarding')], true, true)).toMatchObject({ activity: 'sending', queued: 1, sending: 2 });
    expect(summariseStatus([item(1, 'failed'), item(2, 'uploading')], true, true)).toMatchObject({ activity: 'attention', failed: 1 });
  });

  it('needs attention when studies wait for what only a person can fix', () => {
    expect(summariseStatus([item(1, 'queued')], false, true).activity).toBe('attention');
    expect(summariseStatus([item(1, 'queued')], true, false).activity).toBe('attention');
    expect(summariseStatus([], true, false).activity).toBe('idle');
    expect(summariseStatus([item(1, 'queued', { code: 'SESSION_EXPIRED', message: 'x' })], true, true).activity).toBe('attention');
    expect(summariseStatus([item(1, 'queued', { code: 'WAITING_FOR_WINDOW', message: 'x' })], true, true).activity).toBe('idle');
  });
});

describe('StatusEvents', () => {
  afterEach(() => vi.useRealTimers());

  it('sends queue:changed at most once per interval while progress comes, at once when asked, and status:changed only when it changes', () => {
    vi.useFakeTimers();
    let queue = [item(1, 'uploading')];
    const events = new StatusEvents({ queue: () => queue, state: () => ({ signedIn: true, online: true }), closed: () => false, intervalMs: 250, log: () => undefined });
    const seen: string[] = [];
    events.onEvent((channel) => seen.push(channel));
    events.queueChanged();
    events.queueChanged();
    vi.advanceTimersByTime(0);
    expect(seen).toEqual(['queue:changed', 'status:changed']);
    events.queueChanged();
    vi.advanceTimersByTime(100);
    expect(seen).toHaveLength(2);
    vi.advanceTimersByTime(150);
    // The same summary: no second status:changed.
    expect(seen).toEqual(['queue:changed', 'status:changed', 'queue:changed']);
    queue = [item(1, 'failed')];
    events.queueChanged(true);
    expect(seen.slice(3)).toEqual(['queue:changed', 'status:changed']);
    events.dispose();
  });

  it('sends nothing once closing, and a failing listener does not stop the others', () => {
    let closed = false;
    const logged: string[] = [];
    const events = new StatusEvents({ queue: () => [], state: () => ({ signedIn: false, online: true }), closed: () => closed, intervalMs: 250, log: (m) => logged.push(m) });
    const seen: string[] = [];
    events.onEvent(() => { throw new TypeError('boom'); });
    events.on('status:changed', (status) => seen.push(status.activity));
    events.emitStatus();
    expect(seen).toEqual(['idle']);
    expect(logged).toEqual(['a listener of status:changed failed (TypeError)']);
    closed = true;
    events.queueChanged(true);
    expect(seen).toEqual(['idle']);
  });
});
