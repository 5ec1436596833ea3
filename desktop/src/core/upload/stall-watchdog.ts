import type { Socket } from 'node:net';

export interface StallWatchdogOptions {
  /** Connected, and no byte moved either way for this long: the connection is stuck. */
  stallMs: number;
  /** Not connected this long after the request started: the handshake is stuck (SYNs lost). */
  connectMs: number;
  /** Monotonic milliseconds. */
  now: () => number;
}

/** Why a request was given up: which phase, and how long nothing moved. */
export interface Stall {
  phase: 'connect' | 'transfer';
  idleMs: number;
}

/**
 * Tells a slow connection from a stuck one by progress, not by a deadline: a request is given up
 * only when its connection is not established within `connectMs`, or when, once connected, nothing
 * moved for `stallMs`. A chunk that keeps moving is never abandoned however long it takes, so
 * its bytes are not lost and sent again; one that stopped moving (on a lossy link, TCP waiting out
 * a retransmission timeout that doubles each time) is given up early, for a fresh connection.
 *
 * Pure: it is fed samples of a progress counter (`socketProgress`) and asked whether to give up.
 */
export class StallWatchdog {
  private readonly started: number;
  private stallMs: number;
  private lastMove: number | undefined;
  private lastCount = 0;

  constructor(private readonly options: StallWatchdogOptions) {
    this.started = options.now();
    this.stallMs = options.stallMs;
  }

  /** The stall time from now on: e.g. shorter once the relay's answer has started, as its work is done. */
  setStallMs(stallMs: number): void {
    this.stallMs = stallMs;
  }

  /**
   * One sample: whether the connection is up and the progress counter (any number that grows when
   * bytes move). Answers the stall when the request should be given up, else undefined.
   */
  sample(connected: boolean, count: number): Stall | undefined {
    const now = this.options.now();
    if (!connected) {
      // A reused keep-alive connection never is "not connected"; a new one gets connectMs.
      const waited = now - this.started;
      return this.lastMove === undefined && waited >= this.options.connectMs ? { phase: 'connect', idleMs: waited } : undefined;
    }
    if (this.lastMove === undefined || count !== this.lastCount) {
      this.lastMove = now;
      this.lastCount = count;
      return undefined;
    }
    const idle = now - this.lastMove;
    return idle >= this.stallMs ? { phase: 'transfer', idleMs: idle } : undefined;
  }
}

/** The libuv stream handle under a socket (Node internals, read defensively). */
interface StreamHandle {
  bytesRead?: number;
  bytesWritten?: number;
  writeQueueSize?: number;
  /** A TLS socket's handle wraps the TCP one, which carries the encrypted bytes as they go. */
  _parent?: StreamHandle;
}

/**
 * A counter that changes whenever bytes move on a socket's TCP connection: bytes read, plus bytes
 * handed to libuv less those it still queues for the kernel (writeQueueSize). The kernel takes more
 * of a large body only as the peer acknowledges earlier bytes, so the counter keeps changing while
 * the far end receives and stops when the link does. The socket's own figures will not do:
 * writableLength counts a write in progress until all of it is with the kernel, and a TLS socket's
 * queue stays full until its whole write is encrypted and gone; the TCP handle's do.
 */
export function socketProgress(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: StreamHandle | null })._handle ?? undefined;
  const tcp = handle?._parent ?? handle;
  if (!tcp) return socket.bytesRead + (socket.bytesWritten ?? 0);
  return Number(tcp.bytesRead ?? 0) + Number(tcp.bytesWritten ?? 0) - Number(tcp.writeQueueSize ?? 0);
}
