/**
 * The renderer's only door to the main process (ARCHITECTURE.md: renderer). It reads `window.api`
 * (built by the preload from the IPC contract, or by the browser test harness from the same lists),
 * unwraps each `IpcResult` into its value, and turns a refusal into an `ApiError` carrying the stable
 * code and the sentence the UI shows. Nothing else in the renderer touches `window.api`.
 */
import { ERROR_CODES, isErrorCode, type CodedError, type ErrorCode } from '../../common/error-codes';
import type {
  EventChannel,
  EventChannels,
  InvokeChannel,
  InvokeRequest,
  InvokeResponse,
  IpcResult,
  RendererApi,
} from '../../common/ipc-contract';

/** A refusal from the main process (or a broken bridge), with the code's sentence as its message. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly detail: string | undefined;

  constructor(error: CodedError) {
    const code: ErrorCode = isErrorCode(error.code) ? error.code : 'INTERNAL';
    super(error.message || ERROR_CODES[code]);
    this.name = 'ApiError';
    this.code = code;
    this.detail = error.detail;
  }
}

/** Any thrown value as an ApiError, so the UI always has a code and a sentence to show. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new ApiError({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail });
}

type ErrorListener = (error: ApiError) => void;
const errorListeners = new Set<ErrorListener>();

/** Hears every refusal (the session store listens for SESSION_EXPIRED). Returns the unsubscribe. */
export function onApiError(listener: ErrorListener): () => void {
  errorListeners.add(listener);
  return () => errorListeners.delete(listener);
}

function bridge(): RendererApi {
  const api = (window as Window & { api?: RendererApi }).api;
  if (!api) {
    throw new ApiError({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail: 'window.api is missing: the preload did not run' });
  }
  return api;
}

function isIpcResult(value: unknown): value is IpcResult<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { ok?: unknown }).ok === 'boolean';
}

/**
 * Calls one invoke channel and resolves with its value, or rejects with an ApiError. A transport
 * failure (the bridge throws, or answers something that is not an IpcResult) becomes INTERNAL.
 */
export async function invoke<C extends InvokeChannel>(
  channel: C,
  ...args: InvokeRequest<C> extends void ? [] : [InvokeRequest<C>]
): Promise<InvokeResponse<C>> {
  let result: unknown;
  try {
    const method = bridge()[channel] as (request: unknown) => Promise<IpcResult<unknown>>;
    result = await method(args[0]);
  } catch (error) {
    throw report(toApiError(error));
  }
  if (!isIpcResult(result)) {
    throw report(new ApiError({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail: `${channel} answered without a result` }));
  }
  if (!result.ok) throw report(new ApiError(result.error));
  return result.value as InvokeResponse<C>;
}

function report(error: ApiError): ApiError {
  for (const listener of errorListeners) listener(error);
  return error;
}

/**
 * Listens to one event channel; returns the unsubscribe. Without a bridge there is nothing to hear
 * (the first invoke shows why), so it returns a no-op rather than breaking the page.
 */
export function subscribe<E extends EventChannel>(channel: E, listener: (payload: EventChannels[E]) => void): () => void {
  const api = (window as Window & { api?: RendererApi }).api;
  const on = api?.[`on:${channel}`] as ((l: (payload: EventChannels[E]) => void) => () => void) | undefined;
  return on ? on(listener) : () => {};
}

/**
 * The file-system paths of dropped files. A sandboxed page cannot see paths: Electron hands them out
 * through `webUtils.getPathForFile` in the preload, which exposes it as `window.relaypacsFiles`
 * (outside `window.api`, which has exactly one method per IPC channel). Older Electron put a `path`
 * on the File itself. Items whose path is unknown are left out.
 */
export function pathsOfDroppedFiles(files: Iterable<File>): string[] {
  const helper = (window as Window & { relaypacsFiles?: { pathForFile(file: File): string } }).relaypacsFiles;
  const paths: string[] = [];
  for (const file of files) {
    let path: string | undefined;
    try {
      path = helper?.pathForFile(file) ?? (file as File & { path?: string }).path;
    } catch {
      // getPathForFile throws for a File that is not on disk (made by script); the caller says how many were left out.
      path = undefined;
    }
    if (path) paths.push(path);
  }
  return paths;
}
