import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPorts } from './free-port.js';
import { ManagedProcess, waitUntilReady, type ExitStatus } from './managed-process.js';

/** Where Debian's orthanc-dicomweb package puts the plugin. */
export const DICOMWEB_PLUGIN_PATH = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
export const ORTHANC_BINARY = 'Orthanc';

export interface OrthancOptions {
  aet?: string;
  /** Load the DICOMweb plugin (STOW-RS, QIDO-RS, WADO-RS). Default true. */
  dicomWeb?: boolean;
  /** HTTP basic credentials; none by default. */
  credentials?: { username: string; password: string };
  /** Merged over the generated configuration, e.g. DicomModalities for C-STORE tests. */
  extraConfig?: Record<string, unknown>;
  startTimeoutMs?: number;
}

export interface OrthancInstanceSummary {
  orthancId: string;
  sopInstanceUid: string;
}

export interface StowRsResult {
  status: number;
  body: unknown;
}

/**
 * A real Orthanc (Debian package) for one test file: free loopback ports, a temporary storage and
 * index directory, torn down by stop(). Orthanc 1.10 has no bind-address option, so it listens on
 * all interfaces; RemoteAccessAllowed=false makes it refuse HTTP from anything but loopback, and
 * tests only ever connect through 127.0.0.1.
 */
export class OrthancServer {
  private constructor(
    readonly httpPort: number,
    readonly dicomPort: number,
    readonly aet: string,
    readonly workDir: string,
    private process: ManagedProcess,
    private readonly authorization: string | undefined,
    private readonly startTimeoutMs: number,
  ) {}

  static async start(options: OrthancOptions = {}): Promise<OrthancServer> {
    if (options.dicomWeb !== false && !existsSync(DICOMWEB_PLUGIN_PATH)) {
      throw new Error(`Orthanc's DICOMweb plugin is missing (${DICOMWEB_PLUGIN_PATH}): apt-get install orthanc orthanc-dicomweb`);
    }
    let lastError: unknown;
    // A free port can be taken between our probe and Orthanc's bind: retry with fresh ones.
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        return await OrthancServer.startOnce(options);
      } catch (error) {
        lastError = error;
      }
    }
    throw lastError;
  }

  private static async startOnce(options: OrthancOptions): Promise<OrthancServer> {
    const [httpPort, dicomPort] = await freeLoopbackPorts(2) as [number, number];
    const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-orthanc-'));
    const aet = options.aet ?? 'ORTHANC';
    const config: Record<string, unknown> = {
      Name: `relaypacs-test-${randomBytes(3).toString('hex')}`,
      StorageDirectory: join(workDir, 'storage'),
      IndexDirectory: join(workDir, 'index'),
      StorageCompression: false,
      HttpPort: httpPort,
      DicomPort: dicomPort,
      DicomAet: aet,
      DicomCheckCalledAet: false,
      RemoteAccessAllowed: false,
      AuthenticationEnabled: options.credentials !== undefined,
      RegisteredUsers: options.credentials ? { [options.credentials.username]: options.credentials.password } : {},
      SaveJobs: false,
      // Tests need every instance accepted once; a second copy must not replace the first silently.
      OverwriteInstances: false,
      Plugins: options.dicomWeb === false ? [] : [DICOMWEB_PLUGIN_PATH],
      DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: true, Ssl: false },
      ...options.extraConfig,
    };
    const configPath = join(workDir, 'orthanc.json');
    await writeFile(configPath, JSON.stringify(config, null, 2));
    const process = new ManagedProcess({ command: ORTHANC_BINARY, args: [configPath], logPath: join(workDir, 'orthanc.log'), cwd: workDir });
    const authorization = options.credentials
      ? `Basic ${Buffer.from(`${options.credentials.username}:${options.credentials.password}`).toString('base64')}`
      : undefined;
    const server = new OrthancServer(httpPort, dicomPort, aet, workDir, process, authorization, options.startTimeoutMs ?? 30_000);
    try {
      await waitUntilReady(process, async () => (await server.request('/system')).ok, options.startTimeoutMs ?? 30_000, 'Orthanc');
    } catch (error) {
      await process.stop(2_000);
      await rm(workDir, { recursive: true, force: true });
      throw error;
    }
    return server;
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  /** Root of the DICOMweb services, e.g. `${dicomWebUrl}/studies` for STOW-RS. */
  get dicomWebUrl(): string {
    return `${this.baseUrl}/dicom-web`;
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.authorization) headers.set('authorization', this.authorization);
    return fetch(`${this.baseUrl}${path}`, { ...init, headers });
  }

  async json<T>(path: string, init?: RequestInit): Promise<T> {
    const response = await this.request(path, init);
    if (!response.ok) throw new Error(`Orthanc ${init?.method ?? 'GET'} ${path}: HTTP ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  }

  async countInstances(): Promise<number> {
    return (await this.json<{ CountInstances: number }>('/statistics')).CountInstances;
  }

  async countStudies(): Promise<number> {
    return (await this.json<{ CountStudies: number }>('/statistics')).CountStudies;
  }

  async listInstances(): Promise<OrthancInstanceSummary[]> {
    const expanded = await this.json<{ ID: string; MainDicomTags: { SOPInstanceUID: string } }[]>('/instances?expand');
    return expanded.map((item) => ({ orthancId: item.ID, sopInstanceUid: item.MainDicomTags.SOPInstanceUID }));
  }

  /** Orthanc's id for a SOP Instance UID, or undefined when it does not hold that instance. */
  async findInstance(sopInstanceUid: string): Promise<string | undefined> {
    const matches = await this.json<{ ID: string; Type: string }[]>('/tools/lookup', { method: 'POST', body: sopInstanceUid });
    return matches.find((match) => match.Type === 'Instance')?.ID;
  }

  /** The stored Part 10 file, byte for byte as Orthanc keeps it. */
  async instanceFile(orthancId: string): Promise<Buffer> {
    const response = await this.request(`/instances/${orthancId}/file`);
    if (!response.ok) throw new Error(`Orthanc has no file for instance ${orthancId}: HTTP ${response.status}`);
    return Buffer.from(await response.arrayBuffer());
  }

  async instanceTags(orthancId: string): Promise<Record<string, unknown>> {
    return this.json(`/instances/${orthancId}/simplified-tags`);
  }

  /** Orthanc REST upload (POST /instances) of one Part 10 file. */
  async uploadInstance(path: string): Promise<{ ID: string; Status: string }> {
    return this.json('/instances', { method: 'POST', body: await readFile(path), headers: { 'content-type': 'application/dicom' } });
  }

  /**
   * One STOW-RS request (PS3.18 §10.5) carrying the given files, answered in DICOM JSON. The
   * harness uses it to prove generated files are acceptable; the product has its own client.
   */
  async stowRs(paths: string[]): Promise<StowRsResult> {
    const boundary = `relaypacs-${randomBytes(12).toString('hex')}`;
    const parts: Buffer[] = [];
    for (const path of paths) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), await readFile(path), Buffer.from('\r\n'));
    }
    parts.push(Buffer.from(`--${boundary}--\r\n`));
    const response = await this.request('/dicom-web/studies', {
      method: 'POST',
      body: Buffer.concat(parts),
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        accept: 'application/dicom+json',
      },
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : undefined };
  }

  async logText(): Promise<string> {
    return this.process.logText();
  }

  /** Stops Orthanc and keeps its storage, as a PACS going down for maintenance would. */
  async pause(): Promise<void> {
    await this.process.stop();
  }

  /** Starts Orthanc again on the same ports and storage after pause(). */
  async resume(): Promise<void> {
    if (!this.process.hasExited) return;
    this.process = new ManagedProcess({ ...this.process.options });
    await waitUntilReady(this.process, async () => (await this.request('/system')).ok, this.startTimeoutMs, 'Orthanc');
  }

  /** Stops Orthanc (SIGTERM, SIGKILL if it hangs) and deletes its storage. */
  async stop(options: { keepFiles?: boolean } = {}): Promise<ExitStatus & { forced: boolean }> {
    const status = await this.process.stop();
    if (!options.keepFiles) await rm(this.workDir, { recursive: true, force: true });
    return status;
  }
}
