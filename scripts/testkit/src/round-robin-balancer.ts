import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP load balancer on loopback for scale-out tests: each new connection goes to the next target
 * in turn, as haproxy's `balance roundrobin` does. A target that refuses the connection (its relay
 * was killed) is skipped for that connection and the next one tried (haproxy's `option redispatch`
 * with retries), so clients see a dead relay as a cut connection at most, never as a refused one
 * while another relay is up. No health checks beyond that: a target that accepts and then hangs is
 * the relays' and clients' timeouts' business, as behind a real balancer.
 */
export class RoundRobinBalancer {
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;
  private next = 0;
  private listeningPort = 0;
  /** Connections handed to each target port so far. */
  readonly connectionsTo = new Map<number, number>();

  private constructor(private targets: number[]) {
    this.server = createServer((client) => this.route(client));
  }

  static async start(targetPorts: number[]): Promise<RoundRobinBalancer> {
    if (targetPorts.length === 0) throw new Error('a balancer needs at least one target');
    const balancer = new RoundRobinBalancer([...targetPorts]);
    await new Promise<void>((resolve) => balancer.server.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const address = balancer.server.address();
    if (!address || typeof address === 'string') throw new Error('balancer has no port');
    balancer.listeningPort = address.port;
    return balancer;
  }

  get port(): number {
    return this.listeningPort;
  }

  get url(): string {
    return `http://127.0.0.1:${this.listeningPort}`;
  }

  /** Replaces the targets (a relay added or restarted on another port); connections open stay where they are. */
  setTargets(targetPorts: number[]): void {
    if (targetPorts.length === 0) throw new Error('a balancer needs at least one target');
    this.targets = [...targetPorts];
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined);
  }

  private route(client: Socket): void {
    this.track(client);
    client.pause();
    // Every target at most once per connection: a bounded loop, whatever the targets do.
    const order = this.targets.map((_, i) => this.targets[(this.next + i) % this.targets.length]!);
    this.next = (this.next + 1) % this.targets.length;
    const attempt = (i: number): void => {
      const port = order[i];
      if (port === undefined || client.destroyed) {
        client.destroy();
        return;
      }
      const upstream = connect({ host: '127.0.0.1', port });
      let connected = false;
      upstream.once('error', (error: NodeJS.ErrnoException) => {
        if (!connected && error.code === 'ECONNREFUSED') attempt(i + 1);
        else client.destroy();
      });
      upstream.once('connect', () => {
        connected = true;
        this.track(upstream);
        this.connectionsTo.set(port, (this.connectionsTo.get(port) ?? 0) + 1);
        client.pipe(upstream);
        upstream.pipe(client);
        client.once('close', () => upstream.destroy());
        upstream.once('close', () => client.destroy());
        client.resume();
      });
    };
    attempt(0);
  }
}
