// Runs in the page, before the renderer: builds `window.api` with the contract's own
// buildRendererApi (exactly what the preload does in Electron), over two transports the browser
// harness provides: the `__relaypacsInvoke` binding (Playwright exposeBinding → the real desktop
// API in the test process) and `__relaypacsEmit`, which the harness calls to push each event.
// The harness bundles this file with esbuild and installs it with page.addInitScript.
import { buildRendererApi, type EventChannel, type InvokeChannel, type IpcResult } from '../../src/common/ipc-contract.js';

type Listener = (payload: unknown) => void;

interface HarnessWindow {
  __relaypacsInvoke(channel: InvokeChannel, request: unknown): Promise<IpcResult<unknown>>;
  __relaypacsEmit?: (channel: EventChannel, payload: unknown) => void;
  console: { error(...args: unknown[]): void };
}

// The page's window, typed only as far as this script uses it (the Node project has no DOM types).
const page = globalThis as unknown as HarnessWindow;
const listeners = new Map<EventChannel, Set<Listener>>();

page.__relaypacsEmit = (channel, payload) => {
  for (const listener of [...(listeners.get(channel) ?? [])]) {
    try {
      listener(payload);
    } catch (error) {
      page.console.error(error);
    }
  }
};

const api = buildRendererApi(
  (channel, request) => page.__relaypacsInvoke(channel, request),
  (channel, listener) => {
    let set = listeners.get(channel);
    if (!set) listeners.set(channel, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
    };
  },
);

// As contextBridge.exposeInMainWorld does: a read-only property the page cannot replace.
Object.defineProperty(page, 'api', { value: api, enumerable: true, writable: false, configurable: false });
