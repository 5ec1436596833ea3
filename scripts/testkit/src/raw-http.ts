// Raw HTTP/1.1 over a socket, for tests (and the fault suite) that must misbehave as fetch never would: bodies that
// announce 64 GiB, bytes dripped one at a time, clients that stop reading. Every loop here is bounded
// in bytes and in time.
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves when the server (or an error) closed the connection, with the milliseconds since open. */
  closed: Promise<number>;
  /** Bytes this side has written (headers and body). */
  written(): number;
  /** This side's port (the server's view of the client), kept after the socket closes. */
  localPort: number;
}

export function openRaw(url: string, options: { localAddress?: string; read?: boolean } = {}): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const opened = Date.now();
    const socket = connect({ host: hostname, port: Number(port), ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
    let text = '';
    let written = 0;
    const closed = new Promise<number>((done) => socket.once('close', () => done(Date.now() - opened)));
    socket.on('error', () => undefined); // a reset by the server is an outcome these tests look for
    if (options.read !== false) socket.on('data', (data: Buffer) => { text += data.toString('latin1'); });
    const write = socket.write.bind(socket);
    socket.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
      written += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
      return write(chunk, ...rest);
    }) as Socket['write'];
    socket.once('connect', () => resolve({ socket, received: () => text, closed, written: () => written, localPort: socket.localPort! }));
    socket.once('error', reject);
  });
}

/**
 * Writes zeros as the body after `head`, as fast as the server takes them, until the connection
 * closes, `maxBytes` were written or `maxMs` passed.
 */
export async function floodBody(connection: RawConnection, head: string, maxBytes: number, maxMs: number): Promise<void> {
  const { socket } = connection;
  socket.write(head);
  const block = Buffer.alloc(64 * 1024);
  const deadline = Date.now() + maxMs;
  let sent = 0;
  let open = true;
  void connection.closed.then(() => { open = false; });
  while (open && sent < maxBytes && Date.now() < deadline && !socket.destroyed) {
    sent += block.length;
    if (!socket.write(block)) {
      await Promise.race([new Promise((resolve) => socket.once('drain', resolve)), connection.closed, sleep(Math.max(0, deadline - Date.now()))]);
    }
  }
}

/** Sends `head`, then one byte of `body` every `everyMs`, until the body is sent or the connection closes. */
export async function dripBody(connection: RawConnection, head: string, body: string, everyMs: number): Promise<void> {
  connection.socket.write(head);
  let open = true;
  void connection.closed.then(() => { open = false; });
  for (let i = 0; i < body.length && open; i++) {
    await sleep(everyMs);
    if (open) connection.socket.write(body[i]!);
  }
}

/** The status code of the first response in `text`, if one arrived. */
export function statusOf(text: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return match ? Number(match[1]) : undefined;
}

export function headerOf(text: string, name: string): string | undefined {
  const head = text.split('\r\n\r\n')[0] ?? '';
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
