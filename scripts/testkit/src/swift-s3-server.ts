import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { freeLoopbackPorts } from './free-port.js';
import { ManagedProcess, waitUntilReady } from './managed-process.js';
import { waitForProcessGroupGone } from './process-group.js';
import { buildRings, configPath, SWIFT_STORAGE_SERVERS, writeSwiftConfigs, type SwiftLayout, type SwiftStorageServer } from './swift-config.js';

/**
 * The AWS SDK is loaded when a Swift server starts, not when the test kit is imported: it weighs
 * tens of MB, and every program that imports the kit (the study generator's memory test among them)
 * would carry it.
 */
const awsSdk = () => import('@aws-sdk/client-s3');

/** Swift 2.30 reads its hash prefix and storage policies from here whatever swift_dir says. */
export const SWIFT_CONF = '/etc/swift/swift.conf';
const REGION = 'us-east-1';

export interface SwiftS3Options {
  startTimeoutMs?: number;
}

function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A real S3-compatible object store for one test file: OpenStack Swift (Debian's packages) with
 * its s3api middleware and tempauth, one replica on a directory in a temporary dir, the account,
 * container and object servers and the proxy each on a free loopback port. stop() ends every
 * process group and deletes the directory.
 */
export class SwiftS3Server {
  readonly region = REGION;

  private constructor(
    private readonly layout: SwiftLayout,
    private readonly processes: ManagedProcess[],
  ) {}

  static async start(options: SwiftS3Options = {}): Promise<SwiftS3Server> {
    if (!existsSync(SWIFT_CONF)) throw new Error(`Swift needs ${SWIFT_CONF}: apt-get install swift swift-proxy swift-account swift-container swift-object`);
    let lastError: unknown;
    // A free port can be taken between our probe and a server's bind: retry with fresh ones.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await SwiftS3Server.startOnce(options.startTimeoutMs ?? 60_000);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private static async startOnce(timeoutMs: number): Promise<SwiftS3Server> {
    const [proxyPort, accountPort, containerPort, objectPort, memcachePort] = await freeLoopbackPorts(5) as [number, number, number, number, number];
    const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-swift-'));
    const layout: SwiftLayout = {
      workDir,
      proxyPort,
      storagePorts: { account: accountPort, container: containerPort, object: objectPort },
      memcachePort,
      account: 'relaypacs',
      user: 'uploader',
      key: randomBytes(16).toString('hex'),
    };
    const processes: ManagedProcess[] = [];
    const server = new SwiftS3Server(layout, processes);
    try {
      const deadline = Date.now() + timeoutMs;
      const remaining = () => Math.max(deadline - Date.now(), 1);
      await writeSwiftConfigs(layout);
      // Both are mostly Python start-ups: overlapping them saves seconds per server.
      for (const name of SWIFT_STORAGE_SERVERS) processes.push(SwiftS3Server.spawn(workDir, name));
      await Promise.all([
        buildRings(layout),
        ...SWIFT_STORAGE_SERVERS.map((name, index) =>
          waitUntilReady(processes[index]!, () => tcpAccepts(layout.storagePorts[name]), remaining(), `swift-${name}-server`)),
      ]);
      const proxy = SwiftS3Server.spawn(workDir, 'proxy');
      processes.push(proxy);
      await waitUntilReady(proxy, async () => (await fetch(`${server.endpoint}/healthcheck`)).ok, remaining(), 'swift-proxy-server');
      // Ready means a signed S3 request gets through s3api, tempauth and the account server.
      await waitUntilReady(proxy, async () => {
        // One attempt per probe: the SDK's own retries would only stretch each poll.
        const { S3Client, ListBucketsCommand } = await awsSdk();
        const client = new S3Client({ ...server.clientConfig, maxAttempts: 1 });
        try {
          await client.send(new ListBucketsCommand({}));
          return true;
        } finally {
          client.destroy();
        }
      }, remaining(), 'Swift s3api');
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  private static spawn(workDir: string, name: SwiftStorageServer | 'proxy'): ManagedProcess {
    return new ManagedProcess({
      command: `swift-${name}-server`,
      // -v adds a handler on stderr; without it Swift logs only to syslog, which tests cannot read.
      args: [configPath(workDir, name), '-v'],
      logPath: join(workDir, `${name}-server.log`),
      cwd: workDir,
      // Swift calls setsid() itself; starting it as a group leader gives the same group at once.
      processGroup: true,
    });
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.layout.proxyPort}`;
  }

  /** tempauth's S3 access key is `account:user`. */
  get accessKeyId(): string {
    return `${this.layout.account}:${this.layout.user}`;
  }

  get secretAccessKey(): string {
    return this.layout.key;
  }

  get workDir(): string {
    return this.layout.workDir;
  }

  /** Process group ids (each server leads its own), for tests proving stop() left none. */
  get pids(): number[] {
    return this.processes.flatMap((process) => (process.pid === undefined ? [] : [process.pid]));
  }

  /**
   * What an S3 client needs here. Path style, because the bucket cannot be a subdomain of
   * 127.0.0.1 (s3api's storage_domain is unset, so virtual-host requests would name no bucket).
   */
  get clientConfig(): S3ClientConfig {
    return {
      endpoint: this.endpoint,
      region: this.region,
      forcePathStyle: true,
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
    };
  }

  /** A new client; the caller destroy()s it. */
  async client(): Promise<S3Client> {
    const { S3Client } = await awsSdk();
    return new S3Client(this.clientConfig);
  }

  /** Creates a bucket (a Swift container in the tempauth account). Names must be DNS-compliant. */
  async createBucket(name: string): Promise<void> {
    const { CreateBucketCommand } = await awsSdk();
    const client = await this.client();
    try {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    } finally {
      client.destroy();
    }
  }

  /** The four servers' logs, each under a header, for failure messages. */
  async logText(): Promise<string> {
    const logs = await Promise.all(this.processes.map(async (process) => `== ${process.options.command}\n${await process.logText()}`));
    return logs.join('\n');
  }

  /** SIGTERM to every server, SIGKILL to any group that hangs or lingers, then the directory goes. */
  async stop(): Promise<void> {
    await Promise.all(this.processes.map(async (process) => {
      await process.stop(5_000);
      if (process.pid !== undefined) await waitForProcessGroupGone(process.pid, 10_000, process.options.command);
    }));
    await rm(this.layout.workDir, { recursive: true, force: true });
  }
}
