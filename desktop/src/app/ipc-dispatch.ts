import type { CodedError } from '../common/error-codes.js';
import { INVOKE_CHANNELS, type InvokeChannel, type InvokeRequest, type InvokeResponse, type IpcResult } from '../common/ipc-contract.js';
import { toCodedError } from '../core/coded-error.js';
import { REQUEST_VALIDATORS } from './request-validators.js';

/** One handler per invoke channel, given the request its validator let through. */
export type Handlers = { [C in InvokeChannel]: (request: InvokeRequest<C>) => Promise<InvokeResponse<C>> | InvokeResponse<C> };

export interface DispatchOptions {
  /** True once the API is closing: every request is refused. */
  closed: () => boolean;
  log: (message: string) => void;
}

/**
 * Runs one channel: validates its request and answers an IpcResult, never throwing across the
 * boundary. An unknown channel or a payload of the wrong shape answers INVALID_REQUEST.
 */
export async function dispatch(handlers: Handlers, channel: string, request: unknown, options: DispatchOptions): Promise<IpcResult<never>> {
  if (!(INVOKE_CHANNELS as readonly string[]).includes(channel)) {
    return { ok: false, error: { code: 'INVALID_REQUEST', message: 'This request is not known to RelayPACS.', detail: 'unknown channel' } };
  }
  const name = channel as InvokeChannel;
  if (options.closed()) return { ok: false, error: { code: 'INTERNAL', message: 'RelayPACS is closing. Open it again to go on.', detail: name } };
  try {
    const validated = (REQUEST_VALIDATORS[name] as (request: unknown) => unknown)(request);
    const handler = handlers[name] as (request: unknown) => Promise<unknown> | unknown;
    const value = await handler(validated);
    return { ok: true, value: value as never };
  } catch (error) {
    const coded = toCodedError(error);
    report(options.log, name, coded);
    return { ok: false, error: coded };
  }
}

/** Logs a refusal by channel and code only; an unexpected one with the error's class name. */
function report(log: (message: string) => void, channel: InvokeChannel, error: CodedError): void {
  if (error.code === 'INVALID_REQUEST' || error.code === 'SIGN_IN_FAILED') return; // the person sees it; nothing for IT
  log(`${channel}: ${error.code}${error.detail ? ` (${error.detail})` : ''}`);
}
