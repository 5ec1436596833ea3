/**
 * What the tray shows at a glance, from the core's StatusSummary (the `status:changed` event):
 * one of three icons (idle, sending, attention) and a tooltip in plain words. Pure, so the wording
 * is unit-tested; tray.ts turns it into an Electron Tray. No PHI: counts only.
 */
import type { StatusSummary } from '../../common/ipc-contract.js';

export type TrayState = StatusSummary['activity'];

export interface TrayPresentation {
  state: TrayState;
  tooltip: string;
}

const studies = (n: number) => `${n} ${n === 1 ? 'study' : 'studies'}`;

export function trayPresentation(status: StatusSummary | null): TrayPresentation {
  if (!status) return { state: 'idle', tooltip: 'RelayPACS: starting' };
  const parts: string[] = [];
  if (!status.signedIn) parts.push('signed out, sign in to send');
  else if (!status.online) parts.push('relay unreachable, sending resumes by itself');
  if (status.failed > 0) parts.push(`${studies(status.failed)} need${status.failed === 1 ? 's' : ''} attention`);
  if (status.sending > 0) parts.push(`sending ${studies(status.sending)}`);
  if (status.queued > 0) parts.push(`${studies(status.queued)} waiting`);
  if (parts.length === 0) parts.push('all sent');
  // Signed out or failures need a person; otherwise the core's own activity decides.
  const state: TrayState = status.failed > 0 || !status.signedIn ? 'attention' : status.activity;
  return { state, tooltip: `RelayPACS: ${parts.join(', ')}` };
}

/** Colour of the tray dot per state (RGB): grey idle, blue sending, amber attention. */
export const TRAY_COLOURS: Record<TrayState, readonly [number, number, number]> = {
  idle: [0x80, 0x86, 0x8f],
  sending: [0x1f, 0x6f, 0xeb],
  attention: [0xe3, 0x8b, 0x06],
};

/**
 * A tray icon drawn in code (no image files to ship or keep in sync): a filled, antialiased dot on
 * a transparent square, as the BGRA bitmap `nativeImage.createFromBitmap` takes. Sizes: 16 px at
 * scale 1, 32 px at scale 2.
 */
export function trayIconBitmap(state: TrayState, size: number): Buffer {
  const [r, g, b] = TRAY_COLOURS[state];
  const bitmap = Buffer.alloc(size * size * 4);
  const centre = size / 2;
  const radius = size * 0.42;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const distance = Math.hypot(x + 0.5 - centre, y + 0.5 - centre);
      const coverage = Math.max(0, Math.min(1, radius - distance + 0.5));
      const alpha = Math.round(coverage * 255);
      const offset = (y * size + x) * 4;
      // Premultiplied BGRA, as Skia expects.
      bitmap[offset] = Math.round((b * alpha) / 255);
      bitmap[offset + 1] = Math.round((g * alpha) / 255);
      bitmap[offset + 2] = Math.round((r * alpha) / 255);
      bitmap[offset + 3] = alpha;
    }
  }
  return bitmap;
}
