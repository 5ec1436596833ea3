import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import type { CatalogDatabase } from '../catalog/catalog-database.js';
import type { SendingLimits } from '../upload/sending-policy.js';
import { formatTransferWindow, parseTransferWindows, TransferWindowError, type TransferWindow } from '../upload/transfer-window.js';
import { ByteRateError, formatByteRate, parseByteRate } from './byte-rate.js';
import { SettingsTable } from './settings-table.js';

/** A setting value that is not valid, with what to write instead. Code as in common/error-codes.ts. */
export class SettingsError extends Error {
  readonly code = 'INVALID_REQUEST';
}

/** Settings as a person types them (CLI flags, a settings form); "off" clears one. */
export interface SettingsText {
  maxRate?: string;
  routineWindows?: string;
  /** PEM file of the private CA the relay's certificate chains to, or "off". */
  caFile?: string;
  /** http://host:port of an HTTP(S) proxy on the way to the relay, or "off". */
  proxy?: string;
}

/** How to reach the relay: a private CA and a proxy, both optional. */
export interface ConnectionSettings {
  caFile: string | null;
  proxy: { protocol: 'http' | 'https'; host: string; port: number } | null;
}

/** Below this a single CT series takes hours: a time window is the better tool. */
export const MIN_RATE_BYTES_PER_SECOND = 10_000;

const MAX_RATE = 'upload.max_bytes_per_second';
const ROUTINE_WINDOWS = 'upload.routine_windows';
const CA_FILE = 'relay.ca_file';
const PROXY = 'relay.proxy';

/**
 * The agent's settings in the catalog's `settings` table (key → text), typed and validated both
 * ways: nothing invalid is written, and a value edited by hand into something invalid is reported
 * on read rather than half-understood. A key never set reads as its default: no bandwidth cap, no
 * routine window. Read on every use (one indexed lookup), so another process changing a setting,
 * e.g. `relaypacs settings` while `relaypacs watch` runs, takes effect from the next chunk.
 */
export class AgentSettings {
  private readonly table: SettingsTable;

  constructor(db: CatalogDatabase, now: () => Date = () => new Date()) {
    this.table = new SettingsTable(db, now);
  }

  sending(): SendingLimits {
    return { maxBytesPerSecond: this.maxBytesPerSecond(), routineWindows: this.routineWindows() };
  }

  maxBytesPerSecond(): number | null {
    const stored = this.table.get(MAX_RATE);
    if (stored === undefined) return null;
    const rate = Number(stored);
    if (!Number.isSafeInteger(rate) || rate < MIN_RATE_BYTES_PER_SECOND) throw corrupt(MAX_RATE, stored);
    return rate;
  }

  routineWindows(): TransferWindow[] {
    const stored = this.table.get(ROUTINE_WINDOWS);
    if (stored === undefined) return [];
    try {
      return parseTransferWindows(stored);
    } catch {
      throw corrupt(ROUTINE_WINDOWS, stored);
    }
  }

  connection(): ConnectionSettings {
    const caFile = this.table.get(CA_FILE) ?? null;
    const proxyText = this.table.get(PROXY);
    let proxy: ConnectionSettings['proxy'] = null;
    if (proxyText !== undefined) {
      try {
        proxy = parseProxy(proxyText);
      } catch {
        throw corrupt(PROXY, proxyText);
      }
    }
    return { caFile, proxy };
  }

  /** Bytes per second for all sends together, or null for no cap. */
  setMaxBytesPerSecond(rate: number | null): void {
    this.write(MAX_RATE, rate === null ? null : String(checkRate(rate)));
  }

  /** When routine studies may be sent; an empty list lifts the restriction. */
  setRoutineWindows(windows: readonly TransferWindow[]): void {
    for (const window of windows) checkWindow(window);
    this.write(ROUTINE_WINDOWS, windows.length === 0 ? null : windows.map(formatTransferWindow).join(','));
  }

  /**
   * Applies settings as typed ("4MB/s", "512KB/s", "off"; "20:00-07:00,12:00-13:00", "off"). Every
   * value is checked before any is written, so a mistake in one changes nothing.
   */
  apply(text: SettingsText): SendingLimits {
    let rate: number | null | undefined;
    let windows: TransferWindow[] | undefined;
    const off = (value: string) => /^\s*off\s*$/i.test(value);
    const caFile = text.caFile === undefined ? undefined : off(text.caFile) ? null : checkCaFile(text.caFile);
    const proxy = text.proxy === undefined ? undefined : off(text.proxy) ? null : text.proxy.trim();
    if (proxy) parseProxy(proxy);
    if (text.maxRate !== undefined) {
      try {
        rate = parseByteRate(text.maxRate);
      } catch (error) {
        throw error instanceof ByteRateError ? new SettingsError(`bandwidth cap: ${error.message}`) : error;
      }
      if (rate !== null) checkRate(rate);
    }
    if (text.routineWindows !== undefined) {
      try {
        windows = /^\s*off\s*$/i.test(text.routineWindows) ? [] : parseTransferWindows(text.routineWindows);
      } catch (error) {
        throw error instanceof TransferWindowError ? new SettingsError(`routine window: ${error.message}`) : error;
      }
    }
    this.table.transaction(() => {
      if (rate !== undefined) this.setMaxBytesPerSecond(rate);
      if (windows !== undefined) this.setRoutineWindows(windows);
      if (caFile !== undefined) this.write(CA_FILE, caFile);
      if (proxy !== undefined) this.write(PROXY, proxy);
    });
    return this.sending();
  }

  private write(key: string, value: string | null): void {
    this.table.set(key, value);
  }
}

function checkRate(rate: number): number {
  if (!Number.isFinite(rate)) throw new SettingsError(`bandwidth cap: ${rate} is not a number of bytes per second`);
  if (rate < MIN_RATE_BYTES_PER_SECOND) {
    throw new SettingsError(`bandwidth cap: ${formatByteRate(rate)} is too low (at least ${formatByteRate(MIN_RATE_BYTES_PER_SECOND)}); to keep routine studies off the link by day, set a routine window instead`);
  }
  if (!Number.isSafeInteger(Math.round(rate))) throw new SettingsError(`bandwidth cap: ${rate} bytes per second is more than any link carries; write off for no cap`);
  return Math.round(rate);
}

function checkWindow(window: TransferWindow): void {
  const minute = (m: number) => Number.isInteger(m) && m >= 0 && m < 24 * 60;
  if (!minute(window.start) || !minute(window.end) || window.start === window.end) {
    throw new SettingsError(`routine window: ${JSON.stringify(window)} is not a time window (start and end are different minutes of the day, 0 to 1439)`);
  }
}

function corrupt(key: string, stored: string): SettingsError {
  return new SettingsError(`the stored setting ${key} ("${stored}") is not valid; set it again (relaypacs settings)`);
}

/** The CA file must be there and hold a PEM certificate now, not at the first upload hours later. */
function checkCaFile(path: string): string {
  const file = path.trim();
  if (!isAbsolute(file)) throw new SettingsError(`relay CA file: ${file} is not an absolute path`);
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (error) {
    throw new SettingsError(`relay CA file: ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new SettingsError(`relay CA file: ${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return file;
}

/** http(s)://host:port; credentials are refused, since settings are not a place for secrets. */
export function parseProxy(text: string): NonNullable<ConnectionSettings['proxy']> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new SettingsError(`proxy: ${text} is not a URL like http://proxy.hospital.example:3128`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SettingsError(`proxy: ${text} must start with http:// or https://`);
  if (url.username || url.password) throw new SettingsError('proxy: a user name or password in the proxy URL is not kept in settings; use a proxy that admits the workstation');
  if (url.pathname !== '/' || url.search) throw new SettingsError(`proxy: ${text} must be just scheme, host and port`);
  const port = url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
  return { protocol: url.protocol === 'https:' ? 'https' : 'http', host: url.hostname, port };
}
