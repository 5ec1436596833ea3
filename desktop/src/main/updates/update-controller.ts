/**
 * Automatic updates (the Updater seam of updater.ts) over electron-updater's autoUpdater. Whether to
 * look at all is decideUpdate's (core/updates/update-decision.ts): an MSI, a .deb or an unrecognised
 * install never updates itself, IT policy can turn updates off (or on), then the user's setting; the
 * channel is policy's or the user's. When the answer is yes this checks at once and every few hours,
 * electron-updater downloads in the background and installs when RelayPACS quits, and the user is told
 * that an update is ready. When it is no, the reason goes to the log once. A staged rollout asks the
 * same decision again with the release's stagingPercentage, through electron-updater's
 * isUserWithinRollout hook, so every user of a shared workstation gets the same answer.
 *
 * The feed address is not here: electron-updater reads it from app-update.yml, which electron-builder
 * writes into the package from electron-builder.yml's publish entry.
 *
 * electron-updater comes in as an AutoUpdaterPort (the members used here) and is asked for only when
 * updates are to be checked, so an MSI or .deb install never even creates one; the tests drive this
 * class with a hand-written stand-in, since electron-updater needs a running Electron.
 */
import type { Settings } from '../../common/ipc-contract.js';
import type { InstallKind } from '../../core/updates/install-kind.js';
import { decideUpdate, type UpdateDecision, type UpdateDecisionInput } from '../../core/updates/update-decision.js';
import type { Updater } from '../updater.js';

/** The fields of electron-updater's UpdateInfo read here. */
export interface ReleaseInfo {
  readonly version: string;
  /** latest.yml's stagingPercentage; electron-updater passes what the YAML holds. */
  readonly stagingPercentage?: number | string | null;
}

export interface UpdaterLogger {
  info(message?: unknown): void;
  warn(message?: unknown): void;
  error(message?: unknown): void;
}

/**
 * The part of electron-updater's AppUpdater used here. The hook and the listeners are method
 * signatures on purpose: electron-updater passes its full UpdateInfo, of which only ReleaseInfo is read.
 */
export interface AutoUpdaterPort {
  autoDownload: boolean;
  autoInstallOnAppQuit: boolean;
  allowDowngrade: boolean;
  allowPrerelease: boolean;
  /** The feed file's name ("latest" reads latest.yml, "beta" beta.yml). Setting it turns allowDowngrade on. */
  channel: string | null;
  logger: UpdaterLogger | null;
  isUserWithinRollout(info: ReleaseInfo): boolean | Promise<boolean>;
  checkForUpdates(): Promise<{ readonly downloadPromise?: Promise<unknown> | null } | null>;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'update-available' | 'update-downloaded', listener: (info: ReleaseInfo) => void): unknown;
}

export interface IntervalTimers {
  setInterval(run: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface UpdateControllerOptions {
  /** electron-updater's autoUpdater; called at most once, when the first check is due. */
  updater: () => AutoUpdaterPort;
  /** How this copy was installed (install-kind.ts); asked once. */
  installKind: () => Promise<InstallKind>;
  /** The machine's id for staged rollouts (machine-id.ts); asked once, only when updates are checked. */
  machineId: () => Promise<string | null>;
  /** What IT policy says about updates (updatePolicyFromSettings). */
  policy: UpdateDecisionInput['policy'];
  log: (line: string) => void;
  /** An update has been downloaded and installs when the app quits: tell the user. */
  onUpdateReady: (version: string) => void;
  /** Between checks; default CHECK_INTERVAL_MS. */
  intervalMs?: number;
  timers?: IntervalTimers;
}

export const CHECK_INTERVAL_MS = 4 * 60 * 60 * 1000;

const realTimers: IntervalTimers = {
  setInterval: (run, ms) => {
    const handle = setInterval(run, ms);
    // The timer alone must not keep the process alive.
    handle.unref();
    return handle;
  },
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

export class UpdateController implements Updater {
  private preferences: Settings['updates'] | null = null;
  private installKind: InstallKind | null = null;
  private machineId: string | null = null;
  private machineIdRead = false;
  private port: AutoUpdaterPort | null = null;
  private timer: unknown = null;
  /** The channel being checked; null while not checking. */
  private checkingChannel: Settings['updates']['channel'] | null = null;
  private lastSaid = '';
  private lastReported: unknown = null;
  private readyVersion: string | null = null;
  private pending: Promise<void> = Promise.resolve();
  private disposed = false;
  private readonly timers: IntervalTimers;
  private readonly intervalMs: number;

  constructor(private readonly options: UpdateControllerOptions) {
    this.timers = options.timers ?? realTimers;
    this.intervalMs = options.intervalMs ?? CHECK_INTERVAL_MS;
  }

  configure(preferences: Settings['updates']): void {
    if (this.disposed) return;
    this.preferences = { ...preferences };
    // One change at a time, in order: the install kind is found asynchronously on the first.
    this.pending = this.pending.then(() => this.apply()).catch((error: unknown) => this.options.log(`updates: ${describeError(error)}`));
  }

  /** Resolves once every configure() so far has been acted on (the checks themselves run on). */
  settled(): Promise<void> {
    return this.pending;
  }

  dispose(): void {
    this.disposed = true;
    this.stopChecking();
  }

  private async apply(): Promise<void> {
    if (this.disposed || !this.preferences) return;
    this.installKind ??= await this.options.installKind().catch((error: unknown) => {
      this.options.log(`updates: could not tell how RelayPACS was installed (${describeError(error)})`);
      return 'unknown' as const;
    });
    const decision = this.decide();
    if (!decision?.check) {
      this.stopChecking();
      // An update downloaded before updates were turned off is not installed either.
      if (this.port) this.port.autoInstallOnAppQuit = false;
      if (decision) this.say(`updates: not checking (${decision.reason}): ${decision.message}`);
      return;
    }
    if (!this.machineIdRead) {
      this.machineId = await this.options.machineId().catch(() => null);
      this.machineIdRead = true;
    }
    if (this.disposed) return;
    const port = this.port ?? this.createPort();
    port.channel = decision.feedChannel;
    // After the channel: electron-updater's channel setter allows downgrades, and a workstation moved
    // from beta back to stable waits for the next stable version rather than installing an older one.
    port.allowDowngrade = false;
    port.allowPrerelease = decision.allowPrerelease;
    port.autoDownload = true;
    port.autoInstallOnAppQuit = true;
    // Some other setting changed: the checks already run on this channel.
    if (this.checkingChannel === decision.channel) return;
    const restarting = this.checkingChannel !== null;
    this.stopChecking();
    this.checkingChannel = decision.channel;
    this.say(`updates: ${restarting ? 'channel changed, ' : ''}checking now and every ${formatHours(this.intervalMs)} (${decision.reason}, ${decision.channel} channel)`);
    this.timer = this.timers.setInterval(() => void this.check(), this.intervalMs);
    void this.check();
  }

  private decide(stagingPercentage?: number | null): UpdateDecision | null {
    if (!this.preferences || !this.installKind) return null;
    return decideUpdate({
      installKind: this.installKind,
      policy: this.options.policy,
      user: this.preferences,
      machineId: this.machineId,
      ...(stagingPercentage !== undefined ? { stagingPercentage } : {}),
    });
  }

  private createPort(): AutoUpdaterPort {
    const port = this.options.updater();
    const forward = (level: string) => (message?: unknown) => this.options.log(`updates: electron-updater ${level}: ${firstLine(message)}`);
    // Its errors arrive through the 'error' event below and are logged there, once.
    port.logger = { info: forward('info'), warn: forward('warning'), error: () => undefined };
    port.isUserWithinRollout = (info) => this.withinRollout(info);
    port.on('error', (error) => this.report(error));
    port.on('update-available', (info) => this.options.log(`updates: version ${info.version} found; downloading it in the background`));
    port.on('update-downloaded', (info) => {
      this.options.log(`updates: version ${info.version} downloaded; it is installed when RelayPACS quits`);
      if (this.readyVersion === info.version) return;
      this.readyVersion = info.version;
      this.options.onUpdateReady(info.version);
    });
    this.port = port;
    return port;
  }

  /** electron-updater's isUserWithinRollout: the same decision, with the release's percentage. */
  private withinRollout(info: ReleaseInfo): boolean {
    const raw = info.stagingPercentage;
    const decision = this.decide(raw === undefined || raw === null || raw === '' ? null : Number(raw));
    if (!decision) return false;
    if (!decision.check) this.options.log(`updates: version ${info.version} not taken (${decision.reason}): ${decision.message}`);
    return decision.check;
  }

  private async check(): Promise<void> {
    const port = this.port;
    if (!port || this.disposed || this.checkingChannel === null) return;
    try {
      const result = await port.checkForUpdates();
      // The download goes on in the background; a failure of it is reported here or by 'error'.
      result?.downloadPromise?.catch((error: unknown) => this.report(error));
    } catch (error) {
      this.report(error);
    }
  }

  /** electron-updater both emits 'error' and rejects the promise with the same error: one line. */
  private report(error: unknown): void {
    if (error === this.lastReported) return;
    this.lastReported = error;
    this.options.log(`updates: ${describeError(error)}; trying again at the next check`);
  }

  private stopChecking(): void {
    if (this.timer !== null) this.timers.clearInterval(this.timer);
    this.timer = null;
    this.checkingChannel = null;
  }

  /** A line is logged when it differs from the last one: settings changes repeat decisions. */
  private say(line: string): void {
    if (line === this.lastSaid) return;
    this.lastSaid = line;
    this.options.log(line);
  }
}

/**
 * electron-updater's messages can run to a stack and response headers: the first line, and the error
 * code (ERR_UPDATER_CHANNEL_FILE_NOT_FOUND, ...) when it has one. They name the update server and
 * versions, never anything of a patient's.
 */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return firstLine(error);
  const code = (error as { code?: unknown }).code;
  return `${typeof code === 'string' ? `${code}: ` : ''}${firstLine(error.message)}`;
}

function firstLine(message: unknown): string {
  const text = message instanceof Error ? message.message : String(message);
  const line = text.split('\n', 1)[0]!.trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

function formatHours(ms: number): string {
  const hours = ms / 3_600_000;
  if (hours >= 1 && Number.isInteger(hours)) return hours === 1 ? '1 hour' : `${hours} hours`;
  return `${Math.round(ms / 1000)} s`;
}
