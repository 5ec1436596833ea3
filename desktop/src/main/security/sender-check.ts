/**
 * Who may call the main process (Electron security checklist item 17, "Validate the sender of all
 * IPC messages"). Every IPC handler goes through `isTrustedSender` in one place (ipc-bridge.ts):
 * the message must come from the main frame of a window this app created, showing a page of the
 * app's own origin. A subframe, a page that somehow navigated elsewhere, or a webContents the app
 * did not create (a devtools extension, a future embedded view) is refused.
 */
import { isAppUrl } from './app-origin.js';

export interface SenderFacts {
  /** URL of the frame that sent the message; null when the frame is gone (navigated or destroyed). */
  frameUrl: string | null;
  /** The frame is its window's top frame (`senderFrame.parent === null`). */
  isMainFrame: boolean;
  /** The sending webContents belongs to a window made by window-factory.ts. */
  isOwnWindow: boolean;
}

export function isTrustedSender(facts: SenderFacts): boolean {
  return facts.isOwnWindow && facts.isMainFrame && facts.frameUrl !== null && isAppUrl(facts.frameUrl);
}
