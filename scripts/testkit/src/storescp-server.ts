import { createConnection } from 'node:net';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from './free-port.js';
import { ManagedProcess, waitUntilReady, type ExitStatus } from './managed-process.js';

export const STORESCP_BINARY = 'storescp';

/**
 * Which transfer syntaxes storescp accepts in each presentation context:
 * - 'uncompressed': its default (+x=), explicit VR little and big endian and implicit VR little endian;
 * - 'all': every syntax it knows (+xa), deflated and the compressed ones included;
 * - 'implicit-little-endian': implicit VR little endian only (+xi), the DICOM default transfer
 *   syntax every SCP must support (PS3.5 §10.1): the peer that forces an SCU to fall back.
 */
export type StorescpAcceptance = 'uncompressed' | 'all' | 'implicit-little-endian';

const ACCEPTANCE_FLAGS: Record<StorescpAcceptance, string> = {
  uncompressed: '+x=',
  all: '+xa',
  'implicit-little-endian': '+xi',
};

export interface StorescpOptions {
  /** storescp's own AE title; it does not check the called AE title against it. Default 'STORESCP'. */
  aet?: string;
  acceptedTransferSyntaxes?: StorescpAcceptance;
  /**
   * Write each data set exactly as received (+B) instead of re-encoding it. Default true: tests can
   * then compare the stored data set with the bytes the SCU sent.
   */
  bitPreserving?: boolean;
  /** More storescp flags for a failure test, e.g. ['--refuse'], ['--abort-after'], ['--sleep-during', '5']. */
  extraArgs?: string[];
  startTimeoutMs?: number;
}

export interface ReceivedFile {
  path: string;
  /** From the file name storescp gives it (`<modality>.<SOP Instance UID>.dcm`). */
  sopInstanceUid: string;
}

/**
 * A real DCMTK storescp (C-STORE SCP) for one test file, on a free port with a temporary output
 * directory, removed by stop(). It runs as a single process (no --fork), so one association at a
 * time, like many small PACS. storescp has no bind-address option and listens on all interfaces;
 * tests only ever connect through 127.0.0.1.
 */
export class StorescpServer {
  private constructor(
    readonly port: number,
    readonly aet: string,
    readonly outputDir: string,
    readonly workDir: string,
    private readonly process: ManagedProcess,
  ) {}

  static async start(options: StorescpOptions = {}): Promise<StorescpServer> {
    let lastError: unknown;
    // A free port can be taken between our probe and storescp's bind: retry with a fresh one.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await StorescpServer.startOnce(options);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private static async startOnce(options: StorescpOptions): Promise<StorescpServer> {
    const port = await freeLoopbackPort();
    const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-storescp-'));
    const outputDir = join(workDir, 'received');
    await mkdir(outputDir);
    const aet = options.aet ?? 'STORESCP';
    const args = [
      '--verbose',
      '--single-process',
      '--disable-host-lookup',
      '--aetitle', aet,
      '--output-directory', outputDir,
      '--filename-extension', '.dcm',
      ACCEPTANCE_FLAGS[options.acceptedTransferSyntaxes ?? 'uncompressed'],
      ...(options.bitPreserving === false ? [] : ['--bit-preserving']),
      ...(options.extraArgs ?? []),
      String(port),
    ];
    const process = new ManagedProcess({ command: STORESCP_BINARY, args, logPath: join(workDir, 'storescp.log'), cwd: workDir });
    const server = new StorescpServer(port, aet, outputDir, workDir, process);
    try {
      await waitUntilReady(process, () => acceptsConnections(port), options.startTimeoutMs ?? 10_000, 'storescp');
    } catch (error) {
      await process.stop(2_000);
      await rm(workDir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The files storescp has written so far, sorted by name. */
  async receivedFiles(): Promise<ReceivedFile[]> {
    const names = (await readdir(this.outputDir)).filter((name) => name.endsWith('.dcm')).sort();
    return names.map((name) => ({
      path: join(this.outputDir, name),
      // storescp's default file name is a two-letter modality prefix, a dot and the SOP Instance UID.
      sopInstanceUid: name.slice(name.indexOf('.') + 1, -'.dcm'.length),
    }));
  }

  /** The stored file for a SOP Instance UID, or undefined. */
  async fileFor(sopInstanceUid: string): Promise<string | undefined> {
    return (await this.receivedFiles()).find((file) => file.sopInstanceUid === sopInstanceUid)?.path;
  }

  async logText(): Promise<string> {
    return this.process.logText();
  }

  /** Stops storescp (SIGTERM, SIGKILL if it hangs) and deletes what it received. */
  async stop(options: { keepFiles?: boolean } = {}): Promise<ExitStatus & { forced: boolean }> {
    const status = await this.process.stop(5_000);
    if (!options.keepFiles) await rm(this.workDir, { recursive: true, force: true });
    return status;
  }
}

/** True once something accepts TCP connections on the loopback port (the probe closes at once). */
function acceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}
