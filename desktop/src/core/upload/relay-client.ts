// Over 400 lines: the one client of the relay protocol (sign-in, upload, chunks watched for stalls), kept as one class as docs/protocol reads.
import { createHash } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import axios, { type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import type { TokenResponse } from '../../../../server/src/protocol/auth-protocol.js';
import type { HttpStatusCode, RelayErrorCode } from '../../../../server/src/protocol/error-codes.js';
import type { ReportList } from '../../../../server/src/protocol/report-protocol.js';
import type { ChunkResponse, InitUploadRequest, InitUploadResponse, UploadStatus } from '../../../../server/src/protocol/upload-protocol.js';
import { socketProgress, StallWatchdog, type Stall } from './stall-watchdog.js';

export interface RelayClientOptions {
  /** e.g. https://relay.hospital.example:8780 */
  baseUrl: string;
  /** PEM of a private CA the relay's certificate chains to. */
  ca?: string | Buffer;
  /** HTTP(S) proxy; none unless given (the relay is usually on the hospital network). */
  proxy?: { host: string; port: number; protocol?: 'http' | 'https' };
  /** A request other than a chunk is given up when its answer has not come within this long (default 60 s); chunks are watched by progress instead (putChunk). */
  requestTimeoutMs?: number;
  /**
   * A new connection not established within this long is given up, for a fresh one: on a lossy
   * link a lost SYN is retried after 1, 2, 4, 8... s, so a new handshake soon beats waiting. Default 3 s.
   */
  connectTimeoutMs?: number;
}

/** How long a chunk may go without a byte moving before its connection is given up, by default. */
export const DEFAULT_CHUNK_STALL_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Sockets per relay: the engine's chunk connections (more on a lossy link), status and init beside them. */
const MAX_SOCKETS = 32;
/**
 * A short request (status, init) is given up when nothing moved for this long, and so is any
 * answer once it has started. On a lossy link a new connection often starts with a retransmission
 * timeout of 3 s (its handshake was retransmitted, inflating its first round-trip sample) that then
 * doubles, so a stuck request is cheaper to send again than to wait for; copies sent meanwhile
 * (HEDGE_MS) take care of the wait.
 */
const ANSWER_STALL_MS = 8_000;
/** The same for complete: the relay verifies what it has not verified yet before it answers. */
const COMPLETE_STALL_MS = 30_000;
/** Copies in all of a request the relay may receive twice. */
const IDEMPOTENT_TRIES = 6;
/** A copy of status or init goes on another connection when no answer came for this long (see idempotent). */
const HEDGE_MS = 1_500;
/** The same for complete, which the relay may take longer to answer. */
const COMPLETE_HEDGE_MS = 5_000;
/** Handshakes per request: one that never connected sent nothing, so another may be tried. */
const CONNECT_TRIES = 3;

/** A relay refusal without a code of its own, by HTTP status (HTTP_503): how the engine records it on a job (the relay's spelling). */
export type { HttpStatusCode };
/** Why the relay refused a request: its wire code (server/src/protocol/error-codes.ts), else the status. */
export type RelayFailureCode = RelayErrorCode | HttpStatusCode;

/** The code a refusal is recorded and logged by. */
export function relayFailureCode(code: RelayErrorCode | undefined, status: number): RelayFailureCode {
  return code ?? `HTTP_${status}`;
}

/** The status of an HTTP_nnn code, or undefined for any other code. */
export function httpStatusOf(code: string | null | undefined): number | undefined {
  const match = code ? /^HTTP_(\d{3})$/.exec(code) : null;
  return match ? Number(match[1]) : undefined;
}

/** A status the relay answers when it is busy or not well right now: worth retrying, not a refusal. */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** A relay answer other than 2xx, or no answer at all. */
export class RelayRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when the network failed (refused, reset, timed out). */
    readonly status: number | undefined,
    /** The relay's stable error code when it sent one (the relay's union; the wire is not checked against it). */
    readonly code: RelayErrorCode | undefined,
    readonly body: Record<string, unknown> | undefined,
    /** Worth retrying: network failures, timeouts, 408/429/5xx, a range being written elsewhere. */
    readonly transient: boolean,
    readonly retryAfterSeconds?: number,
    /** Set when the request was given up because its connection stopped moving (StallWatchdog). */
    readonly stall?: Stall,
  ) {
    super(message);
  }
}

/** What a request's connection is watched for: see StallWatchdog. */
interface WatchOptions {
  connectMs: number;
  /** Once connected: nothing moving for this long gives the request up. Undefined: not watched. */
  stallMs?: number;
  /** Once the answer has started (the relay's work is done): the stall time from then on. */
  answerStallMs?: number;
  /** The whole request, until the answer's headers (the request timeout). */
  deadlineMs?: number;
}

/**
 * The desktop's side of the relay protocol (docs/protocol/upload.md), over axios with keep-alive
 * agents, no redirects followed (a redirect could carry a token elsewhere) and bodies sent as
 * given. Errors come back as RelayRequestError telling transient from permanent.
 */
export class RelayClient {
  private readonly http: AxiosInstance;
  private readonly timeoutMs: number;
  private readonly connectTimeoutMs: number;

  constructor(private readonly options: RelayClientOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? 60_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.http = axios.create({
      baseURL: options.baseUrl,
      maxRedirects: 0,
      timeout: this.timeoutMs,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, scheduling: 'lifo' }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS, scheduling: 'lifo', ...(options.ca ? { ca: options.ca } : {}) }),
      proxy: options.proxy ?? false,
      validateStatus: () => true,
      // Chunk bodies can be large; the relay enforces its own limits.
      maxBodyLength: Infinity,
      maxContentLength: 64 * 1024 * 1024,
    });
  }

  async login(username: string, password: string, totp?: string): Promise<TokenResponse> {
    return this.json<TokenResponse>(this.send({ method: 'POST', url: '/auth/login', data: { username, password, ...(totp ? { totp } : {}) } }));
  }

  /**
   * Never sent twice: the relay spends a refresh token once and ends the session when it sees it
   * again, so an answer lost on the way costs the sign-in. To make that as unlikely as the link
   * allows, it goes over a connection that has just carried an answer (warm()) rather than a new
   * one, whose first round-trip estimate on a lossy link is often inflated by a retransmitted
   * handshake, and so its retransmission timeout (3 s and more, doubling).
   */
  async refresh(refreshToken: string): Promise<TokenResponse> {
    await this.warm();
    return this.json<TokenResponse>(this.send({ method: 'POST', url: '/auth/refresh', data: { refreshToken } }));
  }

  /**
   * Leaves a proven connection in the keep-alive pool, the next request's (the pool hands out the
   * socket freed last): the first of hedged GET /healthz copies to be answered (see idempotent),
   * the others dropped. Best effort: a relay that does not answer is the next request's to report.
   */
  private async warm(): Promise<void> {
    await this.idempotent({ method: 'GET', url: '/healthz' }, ANSWER_STALL_MS, HEDGE_MS).catch(() => undefined);
  }

  /**
   * Whether the relay answers at all: its liveness route (GET /healthz) within `timeoutMs`, short so
   * an outage is noticed quickly. Never throws; any non-2xx (e.g. a proxy's 502) counts as no.
   */
  async isLive(timeoutMs = 3_000): Promise<boolean> {
    return this.answersOk('/healthz', timeoutMs);
  }

  /**
   * Whether the relay can take uploads: its readiness route (GET /readyz: the database answers and
   * it has disk space, for an upload of `bytes` when given) answers 200 within `timeoutMs`. Never
   * throws; anything else counts as no.
   */
  async isReady(bytes?: number, timeoutMs = 3_000): Promise<boolean> {
    return this.answersOk(bytes === undefined ? '/readyz' : `/readyz?bytes=${Math.max(0, Math.round(bytes))}`, timeoutMs);
  }

  private async answersOk(url: string, timeoutMs: number): Promise<boolean> {
    try {
      const response = await this.send({ method: 'GET', url, timeout: timeoutMs });
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    }
  }

  /** Revokes a refresh token at the relay (sign-out). */
  async logout(refreshToken: string): Promise<void> {
    await this.json(this.send({ method: 'POST', url: '/auth/logout', data: { refreshToken } }));
  }

  /** Idempotent (the relay finds the same upload again), so sent again when the answer stalls. */
  async initUpload(accessToken: string, request: InitUploadRequest): Promise<InitUploadResponse> {
    // A large manifest takes the relay a while: 0.1 ms per instance more (100,000 instances: 14 s).
    const relayWork = Math.ceil(request.instances.length / 10);
    return this.idempotent<InitUploadResponse>({ method: 'POST', url: '/upload/init', data: request, headers: bearer(accessToken) }, ANSWER_STALL_MS + relayWork, HEDGE_MS + relayWork);
  }

  async status(uploadId: string, uploadToken: string): Promise<UploadStatus> {
    return this.idempotent<UploadStatus>({ method: 'GET', url: `/upload/${encodeURIComponent(uploadId)}/status`, headers: bearer(uploadToken) }, ANSWER_STALL_MS, HEDGE_MS);
  }

  /**
   * Idempotent, copies sharing the relay's verification of what is left; the relay verifies before
   * it answers, so a copy is given up only after COMPLETE_STALL_MS without an answer.
   */
  async complete(uploadId: string, uploadToken: string): Promise<UploadStatus> {
    return this.idempotent<UploadStatus>({ method: 'POST', url: `/upload/${encodeURIComponent(uploadId)}/complete`, data: {}, headers: bearer(uploadToken) }, COMPLETE_STALL_MS, COMPLETE_HEDGE_MS);
  }

  /** Cancels an upload the relay is still receiving and frees its space there. */
  async cancel(uploadId: string, uploadToken: string): Promise<void> {
    await this.json(this.send({ method: 'DELETE', url: `/upload/${encodeURIComponent(uploadId)}`, headers: bearer(uploadToken) }));
  }

  /** The signed-in user's reports (GET /reports): newest first, or with `after`, those with a higher id, oldest first (a page of at most 500). */
  async reports(accessToken: string, after?: number): Promise<ReportList> {
    const query = after === undefined ? '' : `?after=${after}`;
    return this.idempotent<ReportList>({ method: 'GET', url: `/reports${query}`, headers: bearer(accessToken) }, ANSWER_STALL_MS, HEDGE_MS);
  }

  /** A report's content in its own media type (text/plain for SR, application/pdf...): read by a person, audited by the relay. */
  async reportContent(accessToken: string, reportId: number): Promise<{ contentType: string; body: Buffer }> {
    const response = await this.send({ method: 'GET', url: `/reports/${reportId}/content`, headers: bearer(accessToken), responseType: 'arraybuffer' });
    if (response.status !== 200) {
      const text = Buffer.from(response.data as ArrayBuffer).toString('utf8');
      let error: { code?: RelayErrorCode; message?: string } | undefined;
      try {
        error = (JSON.parse(text) as { error?: { code?: RelayErrorCode; message?: string } }).error;
      } catch { /* not the relay's error body */ }
      throw new RelayRequestError(error?.message ?? `the relay answered HTTP ${response.status}`, response.status, error?.code, undefined, isTransientStatus(response.status));
    }
    return { contentType: String(response.headers['content-type'] ?? 'application/octet-stream'), body: Buffer.from(response.data as ArrayBuffer) };
  }

  async retry(uploadId: string, uploadToken: string): Promise<{ requeued: number }> {
    return this.json(this.send({ method: 'POST', url: `/upload/${encodeURIComponent(uploadId)}/retry`, data: {}, headers: bearer(uploadToken) }));
  }

  /**
   * Sends one chunk with its SHA-256 (RFC 9530 Content-Digest). It is watched by progress, not by
   * a deadline (StallWatchdog): given up when its connection does not come up within
   * `connectTimeoutMs`, or when no byte moved for `stallMs` (the relay taking body bytes, its
   * answer arriving). A chunk that keeps moving is never abandoned however slow the link; a stuck
   * one is, with a TCP reset so neither side keeps the dead connection, and the error says so
   * (`stall`). `timeoutMs`, when given, still bounds the whole request.
   */
  async putChunk(uploadId: string, uploadToken: string, instance: number, offset: number, bytes: Buffer,
    options: { stallMs?: number; connectTimeoutMs?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ChunkResponse> {
    const digest = createHash('sha256').update(bytes).digest('base64');
    const watched: Watched = {};
    return this.json<ChunkResponse>(this.send({
      method: 'PUT', url: `/upload/${encodeURIComponent(uploadId)}/chunk`, data: bytes,
      params: { instance, offset },
      headers: { ...bearer(uploadToken), 'content-type': 'application/octet-stream', 'content-digest': `sha-256=:${digest}:` },
      // No wall-clock limit unless asked: it abandoned slow chunks that were still moving.
      timeout: options.timeoutMs ?? 0,
      ...(options.signal ? { signal: options.signal } : {}),
    }, { connectMs: options.connectTimeoutMs ?? this.connectTimeoutMs, stallMs: options.stallMs ?? DEFAULT_CHUNK_STALL_MS }, watched), watched);
  }

  /**
   * One request through the watched transport: a new connection must come up within
   * connectTimeoutMs (one that does not sent nothing, so up to CONNECT_TRIES handshakes are tried);
   * `watch.stallMs`, when set, gives the request up when nothing moves for that long; the request's
   * timeout (requestTimeoutMs unless given) bounds it until the answer comes.
   */
  private async send(config: AxiosRequestConfig, watch: Partial<WatchOptions> = {}, watched: Watched = {}): Promise<AxiosResponse> {
    const timeout = config.timeout ?? this.timeoutMs;
    const started = performance.now();
    // Within a short timeout (isLive) two handshakes fit: a lost SYN is retried after 1 s, then 3 s.
    const connectMs = watch.connectMs ?? Math.min(this.connectTimeoutMs, timeout ? timeout / 2 : Infinity);
    for (let tries = 1; ; tries++) {
      const left = timeout ? timeout - (performance.now() - started) : 0;
      const attempt: Watched = {};
      try {
        return await this.http.request({
          ...config,
          ...(timeout ? { timeout: Math.max(1, Math.round(left)) } : {}),
          transport: watchedTransport({ ...watch, connectMs, ...(timeout ? { deadlineMs: left } : {}) }, attempt),
        });
      } catch (error) {
        // Never connected, so nothing was sent: a new connection may try, while the request has time left.
        const retry = attempt.stall?.phase === 'connect' && tries < CONNECT_TRIES && !config.signal?.aborted
          && (!timeout || timeout - (performance.now() - started) > connectMs / 2);
        if (!retry) {
          if (attempt.stall) watched.stall = attempt.stall;
          throw error;
        }
      }
    }
  }

  /**
   * A request the relay may receive twice (it answers the same): watched by progress, and given
   * up when its connection stalls (no answer within `stallMs` of the last byte moving, as when the
   * request or its answer waits out TCP's doubling retransmission timeout on a lossy link). With
   * `hedgeMs` another copy goes on a new connection whenever no answer came that long after the
   * last one went, up to IDEMPOTENT_TRIES copies, the first answer winning (the others are
   * dropped); without, a copy goes only when the last one stalled. A refusal is an answer; a
   * connection refused or reset (the relay not there) ends it too, for the engine to look into.
   */
  private idempotent<T>(config: AxiosRequestConfig, stallMs: number, hedgeMs?: number): Promise<T> {
    const watch = { stallMs: Math.min(stallMs, config.timeout ?? this.timeoutMs), answerStallMs: ANSWER_STALL_MS };
    return new Promise<T>((resolve, reject) => {
      const copies = new Set<AbortController>();
      let launched = 0;
      let settled = false;
      let hedge: NodeJS.Timeout | undefined;
      const settle = (done: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(hedge);
        for (const copy of copies) copy.abort();
        done();
      };
      const launch = () => {
        launched++;
        const copy = new AbortController();
        copies.add(copy);
        const watched: Watched = {};
        this.json<T>(this.send({ ...config, signal: copy.signal }, watch, watched), watched).then((value) => settle(() => resolve(value)), (error: unknown) => {
          copies.delete(copy);
          if (settled) return;
          if (!(error instanceof RelayRequestError) || !error.stall) settle(() => reject(error));
          else if (launched < IDEMPOTENT_TRIES) launch();
          else if (copies.size === 0) settle(() => reject(error));
        });
        clearTimeout(hedge);
        if (hedgeMs !== undefined && launched < IDEMPOTENT_TRIES) hedge = setTimeout(launch, hedgeMs);
      };
      launch();
    });
  }

  private async json<T>(request: Promise<AxiosResponse>, watched: Watched = {}): Promise<T> {
    let response: AxiosResponse;
    try {
      response = await request;
    } catch (error) {
      if (watched.stall) {
        const { phase, idleMs } = watched.stall;
        throw new RelayRequestError(phase === 'connect'
          ? `the relay could not be reached (no connection within ${(idleMs / 1000).toFixed(1)} s)`
          : `the connection to the relay stalled (nothing moved for ${(idleMs / 1000).toFixed(1)} s)`, undefined, undefined, undefined, true, undefined, watched.stall);
      }
      const code = (error as { code?: string }).code;
      throw new RelayRequestError(`the relay could not be reached (${code ?? (error as Error).message})`, undefined, undefined, undefined, true);
    }
    if (response.status >= 200 && response.status < 300) return response.data as T;
    if (response.status === 204) return undefined as T;
    const body = typeof response.data === 'object' && response.data !== null ? response.data as Record<string, unknown> : undefined;
    const error = body?.error as { code?: RelayErrorCode; message?: string } | undefined;
    const retryAfter = Number(response.headers['retry-after']);
    const transient = isTransientStatus(response.status) || error?.code === 'UPLOAD_CHUNK_IN_PROGRESS';
    throw new RelayRequestError(error?.message ?? `the relay answered HTTP ${response.status}`, response.status, error?.code, body, transient,
      Number.isFinite(retryAfter) ? retryAfter : undefined);
  }
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}

/** What a watched request was given up for, when it was. */
interface Watched {
  stall?: Stall;
}

/**
 * An axios transport (node:http or node:https, as axios would pick with maxRedirects 0) that
 * watches each request's connection with a StallWatchdog, sampling it every quarter of a second.
 * A stalled request is given up: a connection still being set up is destroyed; an established
 * one is reset (RST), so the kernel stops retransmitting what it held, the relay learns at once
 * that the chunk will not come (it keeps nothing of a partial chunk), and the keep-alive pool never
 * hands the stuck socket to the next request. `watched.stall` then says why. With a custom
 * transport axios no longer runs its own wall-clock timer, so `deadlineMs` does that: until the
 * answer's headers, as axios did.
 */
function watchedTransport(watch: WatchOptions, watched: Watched) {
  return {
    request(options: RequestOptions, callback: (response: IncomingMessage) => void): ClientRequest {
      const request = (options.protocol === 'https:' ? httpsRequest : httpRequest)(options, callback);
      const started = performance.now();
      const dog = new StallWatchdog({ connectMs: watch.connectMs, stallMs: watch.stallMs ?? Infinity, now: () => performance.now() });
      let socket: Socket | undefined;
      let answered = false;
      const sample = () => {
        if (!answered && watch.deadlineMs !== undefined && performance.now() - started >= watch.deadlineMs) {
          stop();
          if (socket) abandon(socket);
          request.destroy(Object.assign(new Error(`timeout of ${watch.deadlineMs}ms exceeded`), { code: 'ECONNABORTED' }));
          return;
        }
        // Until the agent hands out a socket (all of them busy) there is no connection to watch.
        const stall = socket && dog.sample(!socket.connecting, socketProgress(socket));
        if (!socket || !stall) return;
        stop();
        watched.stall = stall;
        abandon(socket);
        request.destroy(Object.assign(new Error(`stalled (${stall.phase})`), { code: 'ESTALLED' }));
      };
      const timer = setInterval(sample, Math.min(250, watch.connectMs / 4, (watch.deadlineMs ?? Infinity) / 4));
      timer.unref();
      const stop = () => clearInterval(timer);
      request.on('socket', (s: Socket) => {
        socket = s;
      });
      request.on('response', (response: IncomingMessage) => {
        answered = true;
        // Without a stall time nothing is left to watch once the answer came.
        if (watch.stallMs === undefined) stop();
        else if (watch.answerStallMs !== undefined) dog.setStallMs(Math.min(watch.stallMs, watch.answerStallMs));
        response.on('end', () => {
          stop();
          // Answered before the whole body went (a 409, a duplicate): the rest would only keep the
          // link busy, and the process alive, until it trickled out.
          if (socket && !request.writableFinished) abandon(socket);
        });
      });
      request.on('close', stop);
      return request;
    },
  };
}

/** Drops a stuck connection: a reset when it is up (the peer learns, nothing is retransmitted), else a plain destroy. */
function abandon(socket: Socket): void {
  try {
    if (!socket.connecting && !socket.destroyed) {
      socket.resetAndDestroy();
      return;
    }
  } catch {
    // A TLS socket cannot be reset from here (ERR_INVALID_HANDLE_TYPE): close it.
  }
  socket.destroy();
}
