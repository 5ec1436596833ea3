/**
 * A test double of the IPC boundary: `window.api` built by the contract's own `buildRendererApi`,
 * answering from in-memory handlers. The real main process (Electron) cannot run under jsdom; the
 * browser e2e suite drives the same renderer against the real core.
 */
import { codedError, type CodedError, type ErrorCode } from '../../../src/common/error-codes';
import {
  buildRendererApi,
  type EventChannel,
  type EventChannels,
  type InvokeChannel,
  type InvokeRequest,
  type InvokeResponse,
  type IpcResult,
  type RendererApi,
} from '../../../src/common/ipc-contract';

export type FakeHandlers = {
  [C in InvokeChannel]?: (request: InvokeRequest<C>) => InvokeResponse<C> | Promise<InvokeResponse<C>>;
};

/** Thrown by a fake handler to answer `{ ok: false, error }`. */
export class Refusal {
  constructor(readonly error: CodedError) {}
}

export function refuse(code: ErrorCode, detail?: string): Refusal {
  return new Refusal(codedError(code, detail));
}

export interface FakeApi {
  api: RendererApi;
  handlers: FakeHandlers;
  calls: { channel: InvokeChannel; request: unknown }[];
  /** The requests sent on one channel, in order. */
  requestsTo<C extends InvokeChannel>(channel: C): InvokeRequest<C>[];
  /** Pushes an event as main would. Wrap in act() when components listen. */
  emit<E extends EventChannel>(channel: E, payload: EventChannels[E]): void;
  listenerCount(channel: EventChannel): number;
}

export function createFakeApi(handlers: FakeHandlers = {}): FakeApi {
  const calls: FakeApi['calls'] = [];
  const listeners = new Map<EventChannel, Set<(payload: unknown) => void>>();
  const api = buildRendererApi(
    async (channel, request): Promise<IpcResult<unknown>> => {
      calls.push({ channel, request });
      const handler = handlers[channel] as ((request: unknown) => unknown) | undefined;
      if (!handler) return { ok: false, error: codedError('INTERNAL', `the fake api has no handler for ${channel}`) };
      try {
        return { ok: true, value: await handler(request) };
      } catch (error) {
        if (error instanceof Refusal) return { ok: false, error: error.error };
        throw error;
      }
    },
    (channel, listener) => {
      const set = listeners.get(channel) ?? new Set();
      listeners.set(channel, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  );
  return {
    api,
    handlers,
    calls,
    requestsTo: <C extends InvokeChannel>(channel: C) => calls.filter((c) => c.channel === channel).map((c) => c.request as InvokeRequest<C>),
    emit(channel, payload) {
      for (const listener of listeners.get(channel) ?? []) listener(payload);
    },
    listenerCount: (channel) => listeners.get(channel)?.size ?? 0,
  };
}

/** Builds the fake and installs it as `window.api`, as the preload would. */
export function installFakeApi(handlers: FakeHandlers = {}): FakeApi {
  const fake = createFakeApi(handlers);
  Object.defineProperty(window, 'api', { value: fake.api, configurable: true, writable: true });
  return fake;
}

export function uninstallFakeApi(): void {
  Reflect.deleteProperty(window, 'api');
}
