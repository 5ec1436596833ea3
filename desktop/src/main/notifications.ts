/**
 * Shows the OS notifications the core's desktop API asks for (a STAT study in PACS, a study that
 * needs attention; it applies the notification settings and writes the text), and main's own
 * (an update ready to install). Clicking one opens the window. A failure stays until dismissed.
 */
import { Notification } from 'electron';
import type { DesktopNotice } from '../app/desktop-api.js';

export class OsNotifier {
  // Held until closed: a notification collected by the GC loses its click handler.
  private readonly shown = new Set<Notification>();

  constructor(private readonly onClick: () => void) {}

  show(notification: DesktopNotice): void {
    const failure = notification.kind === 'failure';
    this.present({ title: notification.title, body: notification.body, urgency: failure ? 'critical' : 'normal', timeoutType: failure ? 'never' : 'default' });
  }

  /** A notice of the app itself, not about a study. */
  showInfo(title: string, body: string): void {
    this.present({ title, body, urgency: 'normal', timeoutType: 'default' });
  }

  private present(options: Electron.NotificationConstructorOptions): void {
    if (!Notification.isSupported()) return;
    const shown = new Notification(options);
    this.shown.add(shown);
    shown.on('click', () => this.onClick());
    shown.on('close', () => this.shown.delete(shown));
    shown.show();
  }
}
