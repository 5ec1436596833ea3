import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback for network-failure tests: forwards to a target port and can cut every
 * open connection at once, or refuse new ones, as a flaky clinic link would.
 */
export class CuttingProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<CuttingProxy> {
    let proxy: CuttingProxy | undefined;
    const server = createServer((client) => {
      if (!proxy || proxy.refusing) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port: targetPort });
      for (const socket of [client, upstream]) {
        proxy.sockets.add(socket);
        socket.once('close', () => proxy?.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream);
      upstream.pipe(client);
      client.once('close', () => upstream.destroy());
      upstream.once('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('proxy has no port');
    proxy = new CuttingProxy(server, address.port);
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Resets every connection in flight (both directions). Returns how many were cut. */
  cutAll(): number {
    const count = this.sockets.size;
    for (const socket of this.sockets) socket.resetAndDestroy();
    return count;
  }

  /** While set, new connections are accepted and immediately closed (the link is down). */
  setDown(down: boolean): void {
    this.refusing = down;
    if (down) this.cutAll();
  }

  async stop(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
