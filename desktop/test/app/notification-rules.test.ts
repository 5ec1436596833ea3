// Which finished jobs earn an OS notification, as the settings allow; never any study text (lock screens).
import { describe, expect, it } from 'vitest';
import { mayNotify, noticeFor } from '../../src/app/notification-rules.js';

const all = { statDelivered: true, failures: true, reports: true };
const none = { statDelivered: false, failures: false, reports: false };
const stat = { jobId: 7, serviceLevel: 'STAT' as const };
const routine = { jobId: 8, serviceLevel: 'ROUTINE' as const };

describe('notification rules', () => {
  it('a failed job earns the failure notice, whatever its service level, when failures are notified', () => {
    expect(noticeFor('failed', routine, all)).toEqual({ kind: 'failure', jobId: 8, title: 'A study needs attention', body: 'A study was not delivered. Open RelayPACS to see why.' });
    expect(noticeFor('failed', stat, all)).toMatchObject({ kind: 'failure', jobId: 7 });
    expect(noticeFor('failed', stat, { statDelivered: true, failures: false, reports: true })).toBeUndefined();
  });

  it('a STAT study delivered or confirmed earns the STAT notice when that is notified; a routine one nothing', () => {
    for (const state of ['delivered', 'confirmed'] as const) {
      expect(noticeFor(state, stat, all)).toEqual({ kind: 'stat-delivered', jobId: 7, title: 'STAT study is in PACS', body: 'A STAT study has been delivered.' });
      expect(noticeFor(state, stat, { statDelivered: false, failures: true, reports: true })).toBeUndefined();
      expect(noticeFor(state, routine, all)).toBeUndefined();
    }
  });

  it('a job that has not ended earns nothing, and nothing at all with both switched off', () => {
    for (const state of ['queued', 'forwarding', 'paused', 'cancelled'] as const) {
      expect(mayNotify(state)).toBe(false);
      expect(noticeFor(state, stat, all)).toBeUndefined();
    }
    expect(['delivered', 'confirmed', 'failed'].every((s) => mayNotify(s as 'failed'))).toBe(true);
    for (const state of ['delivered', 'confirmed', 'failed'] as const) expect(noticeFor(state, stat, none)).toBeUndefined();
  });
});
