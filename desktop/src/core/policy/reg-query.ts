/**
 * Reads the text `reg query KEY /s` prints. Windows has no registry API reachable from Node without a
 * native module, and reg.exe is on every Windows since XP, so the loader runs it and parses this:
 *
 *   HKEY_LOCAL_MACHINE\Software\Policies\RelayPACS
 *       RelayUrl    REG_SZ    https://relay.example.org:8780
 *       UpdatesEnabled    REG_DWORD    0x0
 *       RoutineWindows    REG_MULTI_SZ    20:00-07:00\012:00-13:00
 *
 *   HKEY_LOCAL_MACHINE\Software\Policies\RelayPACS\WatchedFolders\CT
 *       Path    REG_SZ    D:\Exports\CT
 *
 * A key line starts at column 0; a value line is indented by four spaces and its name, type and data
 * are separated by four spaces (a name may itself contain spaces, so the type is found by its REG_
 * token). REG_MULTI_SZ strings are joined with a literal "\0"; REG_DWORD and REG_QWORD are hex.
 * Output is read as UTF-8: the runner starts reg.exe under code page 65001 (see registryPolicyCommand).
 */

export type RegValueType = 'REG_SZ' | 'REG_EXPAND_SZ' | 'REG_MULTI_SZ' | 'REG_DWORD' | 'REG_QWORD' | 'REG_BINARY' | 'REG_NONE';

export type RegValue =
  | { name: string; type: 'REG_SZ' | 'REG_EXPAND_SZ'; data: string }
  | { name: string; type: 'REG_MULTI_SZ'; data: string[] }
  | { name: string; type: 'REG_DWORD' | 'REG_QWORD'; data: number }
  | { name: string; type: 'REG_BINARY' | 'REG_NONE'; data: string };

export interface RegKey {
  /** The full path as printed, e.g. HKEY_LOCAL_MACHINE\Software\Policies\RelayPACS\WatchedFolders. */
  path: string;
  values: RegValue[];
}

export class RegQueryParseError extends Error {}

const TYPES: readonly RegValueType[] = ['REG_SZ', 'REG_EXPAND_SZ', 'REG_MULTI_SZ', 'REG_DWORD', 'REG_QWORD', 'REG_BINARY', 'REG_NONE'];
const VALUE_LINE = new RegExp(`^ {4}(.*?) {4}(${TYPES.join('|')})(?: {4}(.*))?$`);

/** Every key printed, in order, with its values. Throws RegQueryParseError on a line it cannot place. */
export function parseRegQueryOutput(text: string): RegKey[] {
  const keys: RegKey[] = [];
  let current: RegKey | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    if (/^HKEY_[A-Z_]+(\\|$)/.test(line)) {
      current = { path: line.trimEnd(), values: [] };
      keys.push(current);
      return;
    }
    const match = VALUE_LINE.exec(line.trimEnd());
    if (!match || !current) {
      // "End of search: N match(es) found." closes /f searches; anything else is not reg.exe's output.
      if (/^End of search/i.test(line.trim())) return;
      throw new RegQueryParseError(`line ${index + 1} is neither a registry key nor a value: ${JSON.stringify(line.slice(0, 120))}`);
    }
    const name = match[1] === '(Default)' ? '' : match[1]!;
    const type = match[2] as RegValueType;
    const data = match[3] ?? '';
    current.values.push(toValue(name, type, data, index + 1));
  });
  return keys;
}

function toValue(name: string, type: RegValueType, data: string, line: number): RegValue {
  switch (type) {
    case 'REG_SZ':
    case 'REG_EXPAND_SZ':
      return { name, type, data };
    case 'REG_MULTI_SZ':
      return { name, type, data: data === '' ? [] : data.split('\\0').filter((part, i, all) => !(part === '' && i === all.length - 1)) };
    case 'REG_DWORD':
    case 'REG_QWORD': {
      if (!/^0x[0-9a-fA-F]+$/.test(data)) throw new RegQueryParseError(`line ${line}: ${type} value ${name} is not hexadecimal: ${JSON.stringify(data)}`);
      return { name, type, data: Number(BigInt(data)) };
    }
    default:
      return { name, type, data };
  }
}

/** Expands %NAME% in a REG_EXPAND_SZ value the way Windows does (unknown names stay as written). */
export function expandEnvironmentStrings(text: string, env: Readonly<Record<string, string | undefined>>): string {
  const byUpper = new Map(Object.entries(env).map(([k, v]) => [k.toUpperCase(), v]));
  return text.replace(/%([^%]+)%/g, (whole, name: string) => byUpper.get(name.toUpperCase()) ?? whole);
}
