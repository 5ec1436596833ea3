// Test client for the upload protocol: JSON and raw chunk requests with fetch.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { InitUploadRequest, InitUploadResponse } from '../../src/protocol/upload-protocol.js';
import { contentDigestHeader } from '../../src/upload/content-digest.js';

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function manifestFor(paths: string[], sopUids: string[], sopClassUid: string | readonly string[]): Promise<InitUploadRequest['instances']> {
  return Promise.all(paths.map(async (path, i) => {
    const bytes = await readFile(path);
    return { sopInstanceUid: sopUids[i]!, sopClassUid: typeof sopClassUid === 'string' ? sopClassUid : sopClassUid[i]!, size: bytes.length, sha256: sha256(bytes) };
  }));
}

/** Thin client for the protocol, for tests: fetch with JSON or raw bodies. */
export class TestUploadClient {
  constructor(readonly baseUrl: string) {}

  async init(accessToken: string, body: InitUploadRequest): Promise<{ status: number; body: InitUploadResponse & { error?: { code: string } } }> {
    const response = await fetch(`${this.baseUrl}/upload/init`, {
      method: 'POST', headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() as InitUploadResponse & { error?: { code: string } } };
  }

  async chunk(uploadId: string, token: string, instance: number, offset: number, bytes: Buffer, options: { digest?: string; contentType?: string } = {}): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
    const response = await fetch(`${this.baseUrl}/upload/${uploadId}/chunk?instance=${instance}&offset=${offset}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': options.contentType ?? 'application/octet-stream',
        'content-digest': options.digest ?? contentDigestHeader(sha256(bytes)),
      },
      body: bytes,
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
  }

  /** Sends a whole file in chunks of `chunkBytes`, in the given order of chunk numbers. */
  async sendFile(uploadId: string, token: string, instance: number, bytes: Buffer, chunkBytes: number, order?: number[]): Promise<void> {
    const count = Math.ceil(bytes.length / chunkBytes);
    for (const n of order ?? [...Array(count).keys()]) {
      const offset = n * chunkBytes;
      const result = await this.chunk(uploadId, token, instance, offset, bytes.subarray(offset, offset + chunkBytes));
      if (result.status !== 200) throw new Error(`chunk ${n} of instance ${instance}: HTTP ${result.status} ${JSON.stringify(result.body)}`);
    }
  }

  async request(method: string, path: string, token: string): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers: { authorization: `Bearer ${token}` } });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) as Record<string, unknown> : {} };
  }
}

/**
 * A chunk PUT that sends half its bytes, then either a trickle (64 bytes every 250 ms: a moving
 * connection) or nothing (a client that gave it up on a lossy link, its reset lost), its connection
 * left open until finish(). `outcome` says 'HTTP <status>', or 'dropped' when the relay cut it.
 */
export function halfSentChunk(url: string, uploadToken: string, piece: Buffer, trickle: boolean): { outcome: Promise<string>; finish: () => void } {
  const req = httpRequest(url, { method: 'PUT', headers: {
    authorization: `Bearer ${uploadToken}`, 'content-type': 'application/octet-stream', 'content-length': String(piece.length),
    'content-digest': contentDigestHeader(sha256(piece)),
  } });
  const outcome = new Promise<string>((resolve) => {
    req.on('response', (response) => {
      response.resume();
      resolve(`HTTP ${response.statusCode}`);
    });
    req.on('error', () => resolve('dropped'));
  });
  let sent = Math.floor(piece.length / 2);
  req.write(piece.subarray(0, sent));
  const timer = trickle ? setInterval(() => {
    req.write(piece.subarray(sent, sent + 64));
    sent += 64;
  }, 250) : undefined;
  return { outcome, finish: () => { clearInterval(timer); req.end(piece.subarray(sent)); } };
}
