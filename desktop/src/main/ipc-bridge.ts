/**
 * The one place IPC is wired (GitHub Desktop's model: one typed channel map, every handler checks
 * its sender in one place). For each channel of the contract's INVOKE_CHANNELS, one
 * `ipcMain.handle` that refuses untrusted senders (security/sender-check.ts), refuses extra
 * arguments, and forwards the request to the desktop API (desktop/src/app), which validates
 * its shape and answers with an IpcResult. Channels outside the contract have no handler at all. Each EventChannels
 * entry is pushed with `webContents.send` to the app's own windows only.
 *
 * Electron is passed in (ipcMain, the window registry), so this file imports only types and runs
 * under vitest with a recording stand-in for ipcMain: Electron itself cannot run here.
 */
import type { IpcMainInvokeEvent } from 'electron';
import { codedError } from '../common/error-codes.js';
import { EVENT_CHANNELS, INVOKE_CHANNELS, type IpcResult } from '../common/ipc-contract.js';
import type { DesktopApi } from '../app/desktop-api.js';
import { isAppUrl } from './security/app-origin.js';
import { isTrustedSender, type SenderFacts } from './security/sender-check.js';
import type { RegisteredContents, WindowRegistry } from './window-registry.js';

/** The part of IpcMainInvokeEvent the bridge reads. */
export type InvokeEventFacts = Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>;

export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventFacts, ...args: unknown[]) => Promise<unknown>): void;
  removeHandler(channel: string): void;
}

/** What the bridge uses of the core's desktop API: one call per invoke channel, one subscription per event channel. */
export type DesktopApiCalls = Pick<DesktopApi, 'invoke' | 'on'>;

export interface IpcBridgeOptions<W extends RegisteredContents> {
  ipcMain: IpcMainLike;
  api: DesktopApiCalls;
  windows: WindowRegistry<W>;
  log?: (line: string) => void;
}

/** Reads who sent an invoke; a destroyed or navigated-away frame has no URL and is not trusted. */
export function senderFacts(event: InvokeEventFacts, isOwnWindow: boolean): SenderFacts {
  let frameUrl: string | null = null;
  let isMainFrame = false;
  try {
    const frame = event.senderFrame;
    if (frame && !frame.isDestroyed()) {
      frameUrl = frame.url;
      isMainFrame = frame.parent === null;
    }
  } catch {
    // Reading a frame that went away throws: treated as no frame.
  }
  return { frameUrl, isMainFrame, isOwnWindow };
}

/** Registers every handler and event forwarder; returns the function that removes them all. */
export function registerIpc<W extends RegisteredContents>(options: IpcBridgeOptions<W>): () => void {
  const { ipcMain, api, windows } = options;
  const log = options.log ?? ((line: string) => console.warn(line));
  for (const channel of INVOKE_CHANNELS) {
    ipcMain.handle(channel, async (event, ...args) => {
      if (!isTrustedSender(senderFacts(event, windows.has(event.sender)))) {
        log(`ipc: refused ${channel} from a frame that is not the app's own main frame`);
        // Thrown, not answered: the caller is not our renderer and gets no contract answer.
        throw new Error(`${channel}: refused, the sender is not a RelayPACS window`);
      }
      if (args.length > 1) return { ok: false, error: codedError('INVALID_REQUEST', `${channel}: one request argument expected, got ${args.length}`) };
      try {
        // The desktop API validates the request's shape and answers every failure as a coded error.
        return await api.invoke(channel, args[0]);
      } catch (error) {
        // It never throws by design; if it does, that is a bug, reported without detail that could carry PHI.
        log(`ipc: ${channel} threw ${error instanceof Error ? error.name : typeof error}`);
        const result: IpcResult<never> = { ok: false, error: codedError('INTERNAL', `${channel} failed in the main process`) };
        return result;
      }
    });
  }
  const unsubscribes = EVENT_CHANNELS.map((channel) => api.on(channel, (payload) => {
    for (const contents of windows.all()) {
      // Only to a page of the app: a window that is (against every rule) showing something else gets nothing.
      if (isAppUrl(contents.getURL())) contents.send(channel, payload);
    }
  }));
  return () => {
    for (const channel of INVOKE_CHANNELS) ipcMain.removeHandler(channel);
    for (const unsubscribe of unsubscribes) unsubscribe();
  };
}
