// The peers a desktop API test runs against: a real Orthanc, the real relay binary forwarding to it
// over STOW-RS (confirming each instance), relay accounts, and a private gnome-keyring for the
// session's refresh token. Shared by the desktop API tests and the browser end-to-end test.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OrthancServer, relayUserCommand, spawnRelay, startKeyringSession, type KeyringSession, type ManagedProcess } from '@relaypacs/testkit';
import { DEFAULT_ALLOWED_SOP_CLASSES } from '@relaypacs/dicom';

/** SOP class of MR Image Storage (PS3.4 B.5): the stack's relay refuses it, for failure tests. */
export const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';

export const ACCOUNTS = {
  /** May upload. */
  radiographer: { username: 'ct-radiographer', password: 'radiographer secret 1', role: 'radiographer' },
  /** Signs in, but the relay refuses its uploads (radiologists read in the PACS). */
  radiologist: { username: 'reading-doctor', password: 'radiologist secret 1', role: 'radiologist' },
} as const;

export interface RelayStack {
  workDir: string;
  orthanc: OrthancServer;
  relayUrl: string;
  /** The relay's metrics listener (GET /metrics). */
  metricsUrl: string;
  relayDataDir: string;
  keyring: KeyringSession;
  /** Instances of `sopInstanceUids` Orthanc holds. */
  heldInOrthanc(sopInstanceUids: readonly string[]): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts everything; `delivery` is merged into the relay's delivery settings (e.g. maxAttempts, so
 * a PACS that is down fails deliveries instead of waiting). The keyring's bus address is put into
 * this process's environment before any keychain call (libdbus reads it once per process) and
 * restored by stop().
 */
export async function startRelayStack(name: string, options: { delivery?: Record<string, unknown>; reports?: Record<string, unknown> } = {}): Promise<RelayStack> {
  const workDir = await mkdtemp(join(tmpdir(), `relaypacs-${name}-`));
  const busBefore = process.env.DBUS_SESSION_BUS_ADDRESS;
  let orthanc: OrthancServer | undefined;
  let keyring: KeyringSession | undefined;
  let relay: { process: ManagedProcess; url: string; metricsUrl: string } | undefined;
  const stop = async () => {
    await relay?.process.stop();
    await orthanc?.stop();
    await keyring?.stop();
    if (busBefore === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
    else process.env.DBUS_SESSION_BUS_ADDRESS = busBefore;
    await rm(workDir, { recursive: true, force: true });
  };
  try {
    [orthanc, keyring] = await Promise.all([OrthancServer.start(), startKeyringSession()]);
    Object.assign(process.env, keyring.env);
    const relayDataDir = join(workDir, 'relay');
    const config = join(workDir, 'relay.json');
    await writeFile(config, JSON.stringify({
      upload: { minFreeDiskBytes: 0, minChunkBytes: 1024, preferredChunkBytes: 64 * 1024, allowedSopClasses: defaultAllowedWithoutMr() },
      delivery: { initialBackoffSeconds: 0.1, maxBackoffSeconds: 0.5, ...options.delivery },
      destinations: [{ name: 'orthanc', kind: 'stow-rs', url: orthanc.dicomWebUrl, confirm: true }],
      ...(options.reports ? { reports: options.reports } : {}),
    }));
    for (const account of Object.values(ACCOUNTS)) {
      const added = await relayUserCommand(relayDataDir, ['add', account.username, '--role', account.role, '--password-stdin'], `${account.password}\n`);
      if (added.code !== 0) throw new Error(`could not add relay account ${account.username}: ${added.stderr}`);
    }
    relay = await spawnRelay(relayDataDir, join(workDir, 'relay.log'), { RELAYPACS_CONFIG: config });
    const server = orthanc;
    return {
      workDir, orthanc, relayUrl: relay.url, metricsUrl: relay.metricsUrl, relayDataDir, keyring,
      async heldInOrthanc(uids) {
        const wanted = new Set(uids);
        return (await server.listInstances()).filter((i) => wanted.has(i.sopInstanceUid)).length;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The relay's default list less MR Image Storage. */
function defaultAllowedWithoutMr(): string[] {
  return DEFAULT_ALLOWED_SOP_CLASSES.filter((uid) => uid !== MR_IMAGE_STORAGE);
}
