/**
 * The preload of every app window. Runs sandboxed (CommonJS, bundled into one file with the
 * contract, only the sandbox's Electron modules available) and exposes, through contextBridge:
 *
 * - `window.api`: built by the contract's `buildRendererApi`, so it has exactly one method per
 *   invoke channel and one `on:` subscription per event channel, and nothing else. The ipcRenderer
 *   object itself never reaches the page, and listeners are wrapped so the IPC event object (which
 *   carries `sender`, i.e. ipcRenderer) is never passed to page code.
 * - `window.relaypacsFiles.pathForFile(file)`: the file-system path of a File the user dropped on the
 *   window (`webUtils.getPathForFile`; a sandboxed page cannot see paths, and File objects cannot
 *   cross IPC). It makes no IPC call and grants nothing: the page gets the path of a file the user
 *   handed it, and sending it goes through the `import:paths` channel like a path from the dialog.
 */
import { contextBridge, ipcRenderer, webUtils, type IpcRendererEvent } from 'electron';
import { buildRendererApi, type EventChannel, type InvokeChannel } from '../common/ipc-contract.js';

function invoke(channel: InvokeChannel, request: unknown) {
  return ipcRenderer.invoke(channel, request);
}

function subscribe(channel: EventChannel, listener: (payload: unknown) => void): () => void {
  if (typeof listener !== 'function') throw new TypeError(`on:${channel} takes a function`);
  const wrapped = (_event: IpcRendererEvent, payload: unknown) => listener(payload);
  ipcRenderer.on(channel, wrapped);
  return () => {
    ipcRenderer.removeListener(channel, wrapped);
  };
}

contextBridge.exposeInMainWorld('api', buildRendererApi(invoke, subscribe));

contextBridge.exposeInMainWorld('relaypacsFiles', Object.freeze({
  pathForFile(file: File): string {
    return webUtils.getPathForFile(file);
  },
}));
