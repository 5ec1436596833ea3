import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. /dicom-web/studies/1.2.3 */
  url: string;
  headers: IncomingHttpHeaders;
  /** The whole body, unless the stub was told not to keep bodies. */
  body: Buffer;
  bodyBytes: number;
}

export interface StubAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface StubOptions {
  /** Serve HTTPS with this key and certificate (PEM). */
  tls?: { key: string; cert: string };
  /** Count the body without keeping it (large uploads). */
  keepBody?: boolean;
  /** Sees every body chunk as it arrives, e.g. to measure how far the sender runs ahead. */
  onData?: (chunk: Buffer, received: number) => void | Promise<void>;
}

/**
 * A peer that answers canned responses and records what it was sent: for the answers a real
 * Orthanc never gives (503 with Retry-After, 202 with warnings, XML, a bearer token). A stand-in
 * by necessity, so it says what it is: nothing here stores DICOM.
 */
export class HttpStubServer {
  private constructor(private readonly server: Server, readonly url: string, readonly requests: RecordedRequest[]) {}

  static async start(answer: (request: RecordedRequest) => StubAnswer | Promise<StubAnswer>, options: StubOptions = {}): Promise<HttpStubServer> {
    const requests: RecordedRequest[] = [];
    const handle = (req: IncomingMessage, res: ServerResponse) => {
      void (async () => {
        const chunks: Buffer[] = [];
        let received = 0;
        // Reading one chunk at a time lets onData slow the reader down, so backpressure reaches the sender.
        for await (const chunk of req as AsyncIterable<Buffer>) {
          received += chunk.length;
          if (options.keepBody !== false) chunks.push(chunk);
          await options.onData?.(chunk, received);
        }
        const request: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), bodyBytes: received };
        requests.push(request);
        const reply = await answer(request);
        res.writeHead(reply.status, reply.headers ?? {});
        res.end(reply.body ?? '');
      })().catch((error: unknown) => {
        res.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    };
    const server = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle) : createHttpServer(handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new HttpStubServer(server, `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`, requests);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Splits a multipart/related body into its parts' payloads (RFC 2046 §5.1.1), to check what was sent. */
export function multipartPayloads(body: Buffer, contentType: string | undefined): Buffer[] {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType ?? '')?.[2];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const payloads: Buffer[] = [];
  let position = body.indexOf(delimiter);
  while (position >= 0) {
    const afterDelimiter = position + delimiter.length;
    if (body.subarray(afterDelimiter, afterDelimiter + 2).toString() === '--') break;
    const headersEnd = body.indexOf('\r\n\r\n', afterDelimiter);
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`), headersEnd);
    payloads.push(body.subarray(headersEnd + 4, next));
    position = next + 2;
  }
  return payloads;
}

/**
 * A throw-away CA and a certificate it signed for 127.0.0.1, made with the openssl command line,
 * for testing a destination's caFile against a private PKI.
 */
export async function makeTestCertificates(dir: string): Promise<{ caFile: string; key: string; cert: string }> {
  const run = (args: string[]) => execFileAsync('openssl', args, { cwd: dir });
  await run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=RelayPACS Test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1']);
  await writeFile(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext']);
  return {
    caFile: join(dir, 'ca.pem'),
    key: await readFile(join(dir, 'server.key'), 'utf8'),
    cert: await readFile(join(dir, 'server.pem'), 'utf8'),
  };
}
