// What the tray shows at a glance (status/tray-state.ts).
import { describe, expect, it } from 'vitest';
import type { StatusSummary } from '../../src/common/ipc-contract.js';
import { TRAY_COLOURS, trayIconBitmap, trayPresentation } from '../../src/main/status/tray-state.js';

const status = (over: Partial<StatusSummary> = {}): StatusSummary => ({ online: true, signedIn: true, activity: 'idle', queued: 0, sending: 0, failed: 0, ...over });

describe('trayPresentation', () => {
  it.each([
    ['nothing to do', status(), 'idle', 'RelayPACS: all sent'],
    ['sending', status({ activity: 'sending', sending: 2, queued: 1 }), 'sending', 'RelayPACS: sending 2 studies, 1 study waiting'],
    ['a failure', status({ activity: 'attention', failed: 1 }), 'attention', 'RelayPACS: 1 study needs attention'],
    ['failures while sending', status({ activity: 'sending', failed: 3, sending: 1 }), 'attention', 'RelayPACS: 3 studies need attention, sending 1 study'],
    ['offline with work waiting', status({ online: false, queued: 4 }), 'idle', 'RelayPACS: relay unreachable, sending resumes by itself, 4 studies waiting'],
    ['signed out', status({ signedIn: false }), 'attention', 'RelayPACS: signed out, sign in to send'],
  ])('%s', (_name, summary, state, tooltip) => {
    expect(trayPresentation(summary)).toEqual({ state, tooltip });
  });

  it('says it is starting before the first status', () => {
    expect(trayPresentation(null)).toEqual({ state: 'idle', tooltip: 'RelayPACS: starting' });
  });
});

describe('trayIconBitmap', () => {
  it('draws an opaque dot of the state colour on a transparent square (premultiplied BGRA)', () => {
    const size = 32;
    const bitmap = trayIconBitmap('attention', size);
    expect(bitmap.length).toBe(size * size * 4);
    const at = (x: number, y: number) => [...bitmap.subarray((y * size + x) * 4, (y * size + x) * 4 + 4)];
    const [r, g, b] = TRAY_COLOURS.attention;
    expect(at(16, 16)).toEqual([b, g, r, 255]);
    expect(at(0, 0)).toEqual([0, 0, 0, 0]);
  });

  it('has a different colour per state', () => {
    const centres = (['idle', 'sending', 'attention'] as const).map((s) => trayIconBitmap(s, 16).subarray((8 * 16 + 8) * 4, (8 * 16 + 8) * 4 + 4).toString('hex'));
    expect(new Set(centres).size).toBe(3);
  });
});
