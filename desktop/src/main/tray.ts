/**
 * The tray icon: state at a glance (status/tray-state.ts: idle, sending, attention) from the
 * `status:changed` event, and a menu to open the window, pause or resume sending, and quit.
 * Linux app indicators show no tooltip, so the same words head the menu. A downloaded update adds a
 * line saying it installs when RelayPACS quits.
 */
import { Menu, Tray, nativeImage, type NativeImage } from 'electron';
import type { StatusSummary } from '../common/ipc-contract.js';
import { trayIconBitmap, trayPresentation, type TrayState } from './status/tray-state.js';

export interface TrayActions {
  showWindow(): void;
  pauseAll(): void;
  resumeAll(): void;
  quit(): void;
}

function icon(state: TrayState): NativeImage {
  // 32 px at scale factor 2: a 16-point icon, sharp on high-density screens.
  return nativeImage.createFromBitmap(trayIconBitmap(state, 32), { width: 32, height: 32, scaleFactor: 2 });
}

export class AppTray {
  private readonly tray: Tray;
  private state: TrayState = 'idle';
  private status: StatusSummary | null = null;
  private notice: string | null = null;

  constructor(private readonly actions: TrayActions) {
    this.tray = new Tray(icon('idle'));
    this.tray.on('click', () => actions.showWindow());
    this.update(null);
  }

  update(status: StatusSummary | null): void {
    this.status = status;
    const { state, tooltip } = trayPresentation(status);
    if (state !== this.state) {
      this.tray.setImage(icon(state));
      this.state = state;
    }
    this.tray.setToolTip(tooltip);
    this.tray.setContextMenu(Menu.buildFromTemplate([
      { label: tooltip, enabled: false },
      ...(this.notice ? [{ label: this.notice, enabled: false }] : []),
      { type: 'separator' },
      { label: 'Open RelayPACS', click: () => this.actions.showWindow() },
      { label: 'Pause sending', enabled: Boolean(status && (status.sending > 0 || status.queued > 0)), click: () => this.actions.pauseAll() },
      { label: 'Resume sending', click: () => this.actions.resumeAll() },
      { type: 'separator' },
      { label: 'Quit RelayPACS', click: () => this.actions.quit() },
    ]));
  }

  /** A line under the status in the menu (an update ready to install), or null for none. */
  setNotice(notice: string | null): void {
    this.notice = notice;
    this.update(this.status);
  }

  destroy(): void {
    this.tray.destroy();
  }
}
