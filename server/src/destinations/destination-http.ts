import { readFile } from 'node:fs/promises';
import { Agent, fetch } from 'undici';
import { TransientDestinationError, type InstanceToSend } from '../forward/destination.js';

/** How an HTTP destination proves who the relay is. */
export type HttpAuth =
  | { type: 'none' }
  /** RFC 7617; user name and password are sent as UTF-8. */
  | { type: 'basic'; username: string; password: string }
  /** RFC 6750 §2.1, e.g. a token issued by the PACS's identity provider. */
  | { type: 'bearer'; token: string };

export interface DestinationHttpOptions {
  auth: HttpAuth;
  /** PEM file of the CA(s) that signed the destination's certificate, for a private PKI. */
  caFile?: string;
  /**
   * The longest the destination may stay silent: connecting, not taking more of the request body,
   * or not answering. Not a limit on the whole exchange, which for a large batch can take minutes.
   */
  timeoutMs: number;
  /** Larger answers are not read (a STOW-RS response for 50 instances is tens of kB). */
  maxResponseBytes?: number;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** Streamed as given; the caller sets content-length, so no chunked encoding is needed (many PACS refuse it). */
  body?: AsyncIterable<Uint8Array> | string;
}

export interface HttpAnswer {
  status: number;
  statusText: string;
  headers: { get(name: string): string | null };
  /** The body as text; undefined when it was larger than maxResponseBytes. */
  body: string | undefined;
  /** The same body as bytes (a DICOM file, a PDF); undefined when it was larger than maxResponseBytes. */
  bytes: Buffer | undefined;
}

const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/**
 * The HTTP exchange shared by the STOW-RS and Orthanc REST destinations: authentication, a custom
 * CA, an inactivity watchdog, and one translation of network failures into
 * TransientDestinationError. Uses undici's own fetch and Agent because Node's global fetch has no
 * per-request CA option. Opens nothing until the first request.
 */
export class DestinationHttpClient {
  private agent: Promise<Agent> | undefined;
  private readonly authorization: string | undefined;

  constructor(private readonly options: DestinationHttpOptions) {
    this.authorization = authorizationHeader(options.auth);
  }

  /**
   * Sends one request and reads the whole answer. Throws TransientDestinationError for failures
   * of the connection; rethrows, unchanged, an error raised by the caller's body stream (a local
   * fault, not the destination's).
   */
  async exchange(url: string, request: HttpRequest): Promise<HttpAnswer> {
    const agent = await this.dispatcher();
    const controller = new AbortController();
    const timeoutMs = this.options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Error('idle timeout')), timeoutMs);
    };
    let localFailure: { error: unknown } | undefined;
    const watched = async function* (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      try {
        for await (const chunk of source) {
          // A pull means the socket took the previous chunk: the destination is still reading.
          arm();
          yield chunk;
        }
      } catch (error) {
        localFailure = { error };
        throw error;
      }
    };
    const headers: Record<string, string> = { ...request.headers };
    if (this.authorization) headers.authorization = this.authorization;
    arm();
    try {
      const response = await fetch(url, {
        method: request.method,
        headers,
        body: typeof request.body === 'string' || request.body === undefined ? request.body : watched(request.body),
        duplex: 'half',
        // A streamed body cannot be replayed to another URL; a redirect is reported, not followed.
        redirect: 'manual',
        signal: controller.signal,
        dispatcher: agent,
      });
      arm();
      const bytes = await readCapped(response.body, this.options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES, arm);
      let text: string | undefined;
      return {
        status: response.status, statusText: response.statusText, headers: response.headers, bytes,
        // Decoded once, when asked for: a binary answer is never turned into text.
        get body() {
          if (bytes === undefined) return undefined;
          text ??= bytes.toString('utf8');
          return text;
        },
      };
    } catch (error) {
      if (localFailure) throw localFailure.error;
      if (controller.signal.aborted) {
        const silence = timeoutMs < 1000 ? `${timeoutMs} ms` : `${Math.round(timeoutMs / 1000)} s`;
        throw new TransientDestinationError(`the destination stayed silent for ${silence}`, undefined, { cause: error });
      }
      throw new TransientDestinationError(`the connection to the destination failed: ${describeNetworkFailure(error)}`, undefined, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = undefined;
    if (agent) await (await agent.catch(() => undefined))?.close();
  }

  private dispatcher(): Promise<Agent> {
    this.agent ??= (async () => {
      const caFile = this.options.caFile;
      const ca = caFile === undefined ? undefined : await readFile(caFile, 'utf8').catch((error: unknown) => {
        throw new Error(`cannot read the CA file configured for this destination (${caFile})`, { cause: error });
      });
      return new Agent({
        connect: { timeout: this.options.timeoutMs, ...(ca === undefined ? {} : { ca }) },
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
    })();
    // A missing CA file fails this request and the next one tries again.
    this.agent.catch(() => { this.agent = undefined; });
    return this.agent;
  }
}

/**
 * One instance's bytes from a fresh open(), checked against its recorded size: the request
 * declared that many in Content-Length, so a file that changed must fail the request rather than
 * corrupt it. `label` names the instance in errors without a UID ("instance 2 of 3").
 */
export async function* sizedInstanceBytes(instance: InstanceToSend, label: string): AsyncGenerator<Uint8Array> {
  const stream = instance.open();
  let sent = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      sent += chunk.length;
      if (sent > instance.size) throw new Error(`${label} is longer than its recorded ${instance.size} bytes`);
      yield chunk;
    }
  } finally {
    stream.destroy();
  }
  if (sent !== instance.size) throw new Error(`${label} ended after ${sent} of its recorded ${instance.size} bytes`);
}

export function authorizationHeader(auth: HttpAuth): string | undefined {
  switch (auth.type) {
    case 'none':
      return undefined;
    case 'basic':
      return `Basic ${Buffer.from(`${auth.username}:${auth.password}`, 'utf8').toString('base64')}`;
    case 'bearer':
      return `Bearer ${auth.token}`;
  }
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; seconds from `now`, or undefined. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * What an HTTP status means for a batch as a whole, before any body is read. Statuses worth
 * retrying (408, 429, 5xx) throw; the rest are permanent with a sentence an administrator can act
 * on, or undefined when the caller must look at the body.
 */
export function throwIfTransientStatus(answer: HttpAnswer): void {
  const { status } = answer;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfter = parseRetryAfter(answer.headers.get('retry-after'));
    const wait = retryAfter === undefined ? '' : `, retry after ${retryAfter} s`;
    throw new TransientDestinationError(`the destination answered HTTP ${status}${answer.statusText ? ` ${answer.statusText}` : ''}${wait}`, retryAfter);
  }
}

/** The reason for statuses that refuse a whole request no matter what is in it. */
export function permanentStatusReason(status: number): string | undefined {
  if (status === 401 || status === 403) {
    return `the destination refused the relay's credentials (HTTP ${status}): check the user name, password or token configured for it`;
  }
  if (status === 404) return 'the destination has no such service (HTTP 404): check its URL';
  if (status === 413) return 'the destination refused the request as too large (HTTP 413): lower its batch size limits';
  if (status === 415) return 'the destination does not accept this media type (HTTP 415)';
  if (status >= 300 && status < 400) return `the destination redirects (HTTP ${status}): configure the URL it redirects to`;
  return undefined;
}

async function readCapped(body: AsyncIterable<Uint8Array> | null, maxBytes: number, onProgress: () => void): Promise<Buffer | undefined> {
  if (!body) return Buffer.alloc(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of body) {
    onProgress();
    total += chunk.byteLength;
    // Leaving the loop cancels the rest of the body.
    if (total > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

const TLS_TRUST_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED',
]);

/** A short, actionable description of why a connection failed (no URL: it may carry credentials). */
export function describeNetworkFailure(error: unknown): string {
  const code = errorCodes(error)[0];
  if (code === undefined) return error instanceof Error ? error.message : 'unknown network error';
  if (TLS_TRUST_CODES.has(code)) return `its TLS certificate is not trusted (${code}): configure the CA file that signed it`;
  if (code === 'CERT_HAS_EXPIRED') return 'its TLS certificate has expired (CERT_HAS_EXPIRED)';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'its TLS certificate does not name this host (ERR_TLS_CERT_ALTNAME_INVALID)';
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    EPIPE: 'connection closed while sending',
    UND_ERR_SOCKET: 'connection closed by the destination',
    UND_ERR_CLOSED: 'connection closed',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
    UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
    UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
    UND_ERR_BODY_TIMEOUT: 'the answer stalled',
  };
  return `${known[code] ?? 'network error'} (${code})`;
}

function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  for (let current = error, depth = 0; current instanceof Error && depth < 5; current = current.cause, depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}
