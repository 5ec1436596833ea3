// The IPC bridge (ipc-bridge.ts): one handler per contract channel, the sender checked in one
// place, events only to the app's own windows. Electron cannot run here, so ipcMain, the
// webContents and the desktop API are recording stand-ins with the same shape; the sender check
// and the forwarding logic are the real code (electron-app.test.ts runs them in Electron).
import { describe, expect, it } from 'vitest';
import { EVENT_CHANNELS, INVOKE_CHANNELS, type EventChannel, type EventChannels, type IpcResult } from '../../src/common/ipc-contract.js';
import { registerIpc, type DesktopApiCalls, type InvokeEventFacts, type IpcMainLike } from '../../src/main/ipc-bridge.js';
import { WindowRegistry, type RegisteredContents } from '../../src/main/window-registry.js';

type Listener = (event: InvokeEventFacts, ...args: unknown[]) => Promise<unknown>;

class RecordingIpcMain implements IpcMainLike {
  readonly handlers = new Map<string, Listener>();
  handle(channel: string, listener: Listener): void {
    if (this.handlers.has(channel)) throw new Error(`second handler for ${channel}`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
}

class FakeContents implements RegisteredContents {
  static next = 1;
  readonly id = FakeContents.next++;
  readonly sent: [string, unknown][] = [];
  destroyed = false;
  private readonly onDestroyed: (() => void)[] = [];
  constructor(public url = 'app://relaypacs/index.html') {}
  isDestroyed() { return this.destroyed; }
  getURL() { return this.url; }
  send(channel: string, ...args: unknown[]) { this.sent.push([channel, args[0]]); }
  once(event: 'destroyed', listener: () => void) {
    if (event === 'destroyed') this.onDestroyed.push(listener);
    return this;
  }
  destroy() {
    this.destroyed = true;
    for (const l of this.onDestroyed) l();
  }
}

function frame(url: string, parent: unknown = null) {
  return { url, parent, isDestroyed: () => false };
}

function event(sender: FakeContents, senderFrame: unknown = frame(sender.url)): InvokeEventFacts {
  return { sender, senderFrame } as unknown as InvokeEventFacts;
}

function setup() {
  const ipcMain = new RecordingIpcMain();
  const calls: [string, unknown][] = [];
  const listeners = new Map<EventChannel, ((payload: never) => void)[]>();
  // Stands in for the desktop API (desktop/src/app) (tested on its own): records calls, answers each with its channel.
  const api: DesktopApiCalls = {
    async invoke(channel: string, request: unknown) {
      calls.push([channel, request]);
      if (channel === 'status:get' && request === 'throw') throw new Error('patient DOE^JANE');
      return { ok: true, value: `answer to ${channel}` } as never;
    },
    on(channel, listener) {
      const list = listeners.get(channel) ?? [];
      list.push(listener as (payload: never) => void);
      listeners.set(channel, list);
      return () => listeners.set(channel, (listeners.get(channel) ?? []).filter((l) => l !== listener));
    },
  };
  const emit = <E extends EventChannel>(channel: E, payload: EventChannels[E]) => {
    for (const l of listeners.get(channel) ?? []) l(payload as never);
  };
  const windows = new WindowRegistry<FakeContents>();
  const logs: string[] = [];
  const dispose = registerIpc({ ipcMain, api, windows, log: (l) => logs.push(l) });
  return { ipcMain, calls, emit, windows, logs, dispose, listeners };
}

const invoke = (ipcMain: RecordingIpcMain, channel: string, e: InvokeEventFacts, ...args: unknown[]) => ipcMain.handlers.get(channel)!(e, ...args);

describe('registerIpc', () => {
  it('registers exactly one handler per contract channel', () => {
    const { ipcMain } = setup();
    expect([...ipcMain.handlers.keys()].sort()).toEqual([...INVOKE_CHANNELS].sort());
  });

  it('forwards a trusted request to the desktop API and returns its result', async () => {
    const { ipcMain, calls, windows } = setup();
    const contents = new FakeContents();
    windows.add(contents);
    const request = { relayUrl: 'https://relay.example', username: 'rad', password: 'pw' };
    expect(await invoke(ipcMain, 'session:sign-in', event(contents), request)).toEqual({ ok: true, value: 'answer to session:sign-in' });
    expect(calls).toEqual([['session:sign-in', request]]);
  });

  it.each([
    ['a window the app did not create', false, 'app://relaypacs/index.html', null],
    ['a subframe', true, 'app://relaypacs/index.html', frame('app://relaypacs/index.html')],
    ['a remote page', true, 'https://evil.example/', null],
    ['a file:// page', true, 'file:///tmp/index.html', null],
  ])('refuses %s without reaching the desktop API', async (_name, registered, url, parent) => {
    const { ipcMain, calls, windows, logs } = setup();
    const contents = new FakeContents(url);
    if (registered) windows.add(contents);
    await expect(invoke(ipcMain, 'queue:list', event(contents, frame(url, parent)), undefined)).rejects.toThrow(/not a RelayPACS window/);
    expect(calls).toEqual([]);
    expect(logs).toEqual(['ipc: refused queue:list from a frame that is not the app\'s own main frame']);
  });

  it('refuses a sender whose frame is gone', async () => {
    const { ipcMain, calls, windows } = setup();
    const contents = new FakeContents();
    windows.add(contents);
    await expect(invoke(ipcMain, 'queue:list', event(contents, null), undefined)).rejects.toThrow();
    await expect(invoke(ipcMain, 'queue:list', event(contents, { get url(): string { throw new Error('destroyed'); }, parent: null, isDestroyed: () => false }), undefined)).rejects.toThrow();
    expect(calls).toEqual([]);
  });

  it('stops trusting a window once it is destroyed', async () => {
    const { ipcMain, windows } = setup();
    const contents = new FakeContents();
    windows.add(contents);
    contents.destroy();
    await expect(invoke(ipcMain, 'status:get', event(contents), undefined)).rejects.toThrow();
  });

  it('refuses extra arguments with INVALID_REQUEST', async () => {
    const { ipcMain, calls, windows } = setup();
    const contents = new FakeContents();
    windows.add(contents);
    const result = await invoke(ipcMain, 'queue:list', event(contents), undefined, 'extra') as IpcResult<unknown>;
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error.code).toBe('INVALID_REQUEST');
    expect(calls).toEqual([]);
  });

  it('turns a throw of the desktop API into INTERNAL without its message', async () => {
    const { ipcMain, windows, logs } = setup();
    const contents = new FakeContents();
    windows.add(contents);
    const result = await invoke(ipcMain, 'status:get', event(contents), 'throw') as IpcResult<unknown>;
    expect(!result.ok && result.error.code).toBe('INTERNAL');
    expect(JSON.stringify(result) + logs.join()).not.toContain('DOE');
  });

  it('pushes every event channel to the app\'s own windows on app pages only', () => {
    const { emit, windows, listeners } = setup();
    expect([...listeners.keys()].sort()).toEqual([...EVENT_CHANNELS].sort());
    const own = new FakeContents();
    const elsewhere = new FakeContents('https://evil.example/');
    const stranger = new FakeContents();
    const closed = new FakeContents();
    windows.add(own);
    windows.add(elsewhere);
    windows.add(closed);
    closed.destroy();
    const status = { online: true, signedIn: true, activity: 'idle' as const, queued: 0, sending: 0, failed: 0 };
    emit('status:changed', status);
    emit('queue:changed', []);
    expect(own.sent).toEqual([['status:changed', status], ['queue:changed', []]]);
    expect(elsewhere.sent).toEqual([]);
    expect(stranger.sent).toEqual([]);
    expect(closed.sent).toEqual([]);
  });

  it('removes every handler and subscription when disposed', () => {
    const { ipcMain, dispose, listeners } = setup();
    dispose();
    expect(ipcMain.handlers.size).toBe(0);
    expect([...listeners.values()].every((l) => l.length === 0)).toBe(true);
  });
});
