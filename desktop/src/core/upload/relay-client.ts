import { createHash } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { TokenResponse } from '../../../../server/src/protocol/auth-protocol.js';
import type { ChunkResponse, InitUploadRequest, InitUploadResponse, UploadStatus } from '../../../../server/src/protocol/upload-protocol.js';

export interface RelayClientOptions {
  /** e.g. https://relay.hospital.example:8780 */
  baseUrl: string;
  /** PEM of a private CA the relay's certificate chains to. */
  ca?: string | Buffer;
  /** HTTP(S) proxy; none unless given (the relay is usually on the hospital network). */
  proxy?: { host: string; port: number; protocol?: 'http' | 'https' };
  /** A request that makes no progress for this long is abandoned (stall detection). */
  requestTimeoutMs?: number;
}

/** A relay answer other than 2xx, or no answer at all. */
export class RelayRequestError extends Error {
  constructor(
    message: string,
    /** HTTP status, or undefined when the network failed (refused, reset, timed out). */
    readonly status: number | undefined,
    /** The relay's stable error code when it sent one. */
    readonly code: string | undefined,
    readonly body: Record<string, unknown> | undefined,
    /** Worth retrying: network failures, timeouts, 408/429/5xx, a range being written elsewhere. */
    readonly transient: boolean,
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/**
 * The desktop's side of the relay protocol (docs/protocol/upload.md), over axios with keep-alive
 * agents, no redirects followed (a redirect could carry a token elsewhere) and bodies sent as
 * given. Errors come back as RelayRequestError telling transient from permanent.
 */
export class RelayClient {
  private readonly http: AxiosInstance;

  constructor(private readonly options: RelayClientOptions) {
    this.http = axios.create({
      baseURL: options.baseUrl,
      maxRedirects: 0,
      timeout: options.requestTimeoutMs ?? 60_000,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 16 }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 16, ...(options.ca ? { ca: options.ca } : {}) }),
      proxy: options.proxy ?? false,
      validateStatus: () => true,
      // Chunk bodies can be large; the relay enforces its own limits.
      maxBodyLength: Infinity,
      maxContentLength: 64 * 1024 * 1024,
    });
  }

  async login(username: string, password: string, totp?: string): Promise<TokenResponse> {
    return this.json<TokenResponse>(this.http.post('/auth/login', { username, password, ...(totp ? { totp } : {}) }));
  }

  async refresh(refreshToken: string): Promise<TokenResponse> {
    return this.json<TokenResponse>(this.http.post('/auth/refresh', { refreshToken }));
  }

  /**
   * Whether the relay answers at all: its liveness route (GET /healthz) within `timeoutMs`, short so
   * an outage is noticed quickly. Never throws; any non-2xx (e.g. a proxy's 502) counts as no.
   */
  async isLive(timeoutMs = 3_000): Promise<boolean> {
    try {
      const response = await this.http.get('/healthz', { timeout: timeoutMs });
      return response.status >= 200 && response.status < 300;
    } catch {
      return false;
    }
  }

  /** Revokes a refresh token at the relay (sign-out). */
  async logout(refreshToken: string): Promise<void> {
    await this.json(this.http.post('/auth/logout', { refreshToken }));
  }

  async initUpload(accessToken: string, request: InitUploadRequest): Promise<InitUploadResponse> {
    return this.json<InitUploadResponse>(this.http.post('/upload/init', request, { headers: bearer(accessToken) }));
  }

  async status(uploadId: string, uploadToken: string): Promise<UploadStatus> {
    return this.json<UploadStatus>(this.http.get(`/upload/${encodeURIComponent(uploadId)}/status`, { headers: bearer(uploadToken) }));
  }

  async complete(uploadId: string, uploadToken: string): Promise<UploadStatus> {
    return this.json<UploadStatus>(this.http.post(`/upload/${encodeURIComponent(uploadId)}/complete`, {}, { headers: bearer(uploadToken) }));
  }

  /** Cancels an upload the relay is still receiving and frees its space there. */
  async cancel(uploadId: string, uploadToken: string): Promise<void> {
    await this.json(this.http.delete(`/upload/${encodeURIComponent(uploadId)}`, { headers: bearer(uploadToken) }));
  }

  async retry(uploadId: string, uploadToken: string): Promise<{ requeued: number }> {
    return this.json(this.http.post(`/upload/${encodeURIComponent(uploadId)}/retry`, {}, { headers: bearer(uploadToken) }));
  }

  /**
   * Sends one chunk with its SHA-256 (RFC 9530 Content-Digest). `timeoutMs` bounds a chunk that
   * makes no progress: the caller sizes it to the chunk, so a stalled connection is abandoned
   * and retried rather than waited on for minutes.
   */
  async putChunk(uploadId: string, uploadToken: string, instance: number, offset: number, bytes: Buffer, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ChunkResponse> {
    const digest = createHash('sha256').update(bytes).digest('base64');
    return this.json<ChunkResponse>(this.http.put(`/upload/${encodeURIComponent(uploadId)}/chunk`, bytes, {
      params: { instance, offset },
      headers: { ...bearer(uploadToken), 'content-type': 'application/octet-stream', 'content-digest': `sha-256=:${digest}:` },
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }));
  }

  private async json<T>(request: Promise<AxiosResponse>): Promise<T> {
    let response: AxiosResponse;
    try {
      response = await request;
    } catch (error) {
      const code = (error as { code?: string }).code;
      throw new RelayRequestError(`the relay could not be reached (${code ?? (error as Error).message})`, undefined, undefined, undefined, true);
    }
    if (response.status >= 200 && response.status < 300) return response.data as T;
    if (response.status === 204) return undefined as T;
    const body = typeof response.data === 'object' && response.data !== null ? response.data as Record<string, unknown> : undefined;
    const error = body?.error as { code?: string; message?: string } | undefined;
    const retryAfter = Number(response.headers['retry-after']);
    const transient = response.status === 408 || response.status === 429 || response.status >= 500 || error?.code === 'UPLOAD_CHUNK_IN_PROGRESS';
    throw new RelayRequestError(error?.message ?? `the relay answered HTTP ${response.status}`, response.status, error?.code, body, transient,
      Number.isFinite(retryAfter) ? retryAfter : undefined);
  }
}

function bearer(token: string): Record<string, string> {
  return { authorization: `Bearer ${token}` };
}
