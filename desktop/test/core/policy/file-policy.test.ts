// The file sources: macOS managed preferences (XML plist; a binary plist goes through plutil, which
// exists only on macOS, so its recorded output stands in for it), the Linux machine policy
// /etc/relaypacs/policy.json, and a JSON policy file on any OS. Real files in a temporary folder.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../../src/core/policy/command-runner.js';
import { loadJsonPolicyFile, loadManagedPreferences } from '../../../src/core/policy/file-policy.js';
import { readFileOrNull } from '../../../src/core/policy/load-policy.js';
import { parseXmlPlist, PlistParseError } from '../../../src/core/policy/xml-plist.js';

const fixtures = join(import.meta.dirname, 'fixtures');
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'relaypacs-policy-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const noCommands: CommandRunner = async (command) => { throw new Error(`${command} must not run for an XML plist`); };

describe('XML plist reader', () => {
  it('reads every element type, entities, CDATA and comments', () => {
    const value = parseXmlPlist(`<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0"><dict>
  <key>s</key><string>a &lt;b&gt; &amp; &#x263A; &#65;<![CDATA[ <raw> ]]></string>
  <key>empty</key><string/>
  <key>i</key><integer>-42</integer>
  <key>r</key><real>2.5</real>
  <key>t</key><true/><key>f</key><false/>
  <!-- a comment between entries -->
  <key>d</key><date>2025-01-02T03:04:05Z</date>
  <key>bytes</key><data>AAEC</data>
  <key>list</key><array><integer>1</integer><array/><dict/></array>
</dict></plist>`);
    expect(value).toEqual({
      s: 'a <b> & \u263A A <raw> ', empty: '', i: -42, r: 2.5, t: true, f: false,
      d: new Date('2025-01-02T03:04:05Z'), bytes: new Uint8Array([0, 1, 2]), list: [1, [], {}],
    });
  });

  it('refuses malformed property lists with the place of the fault', () => {
    expect(() => parseXmlPlist('<plist><dict><key>a</key></dict></plist>')).toThrow(PlistParseError);
    expect(() => parseXmlPlist('<plist><dict><key>a</key><string>x</string><key>a</key><true/></dict></plist>')).toThrow(/appears twice/);
    expect(() => parseXmlPlist('<plist><string>a & b</string></plist>')).toThrow(/bare "&"/);
    expect(() => parseXmlPlist('<plist><integer>1.5</integer></plist>')).toThrow(/not a whole number/);
    expect(() => parseXmlPlist('<plist><string>x</string></plist><extra/>')).toThrow(/after <\/plist>/);
  });
});

describe('macOS managed preferences', () => {
  it('reads an XML plist with the same keys as the JSON policy (profile bookkeeping keys dropped)', async () => {
    const result = await loadManagedPreferences({ readFile: readFileOrNull, run: noCommands, path: join(fixtures, 'managed-preferences.plist') });
    expect(result).toMatchObject({ kind: 'macos-managed-preferences', status: 'applied', problems: [], failedKeys: [] });
    expect(result.values).toEqual({
      relayUrl: 'https://relay.hospital.example:8780',
      deviceAccount: { username: 'us-cart-04', requireEnrolment: true },
      maxBytesPerSecond: 5_000_000,
      routineWindows: ['19:30-06:45'],
      startAtLogin: true,
      updates: { enabled: true, channel: 'beta' },
      watchedFolders: [{ path: '/Volumes/Modality/Export', serviceLevel: 'STAT', afterDelivery: 'keep', routingTag: 'Radiology & Cardiology' }],
    });
  });

  it('converts a binary plist with plutil -convert xml1 and reads what it prints', async () => {
    const path = join(dir, 'binary.plist');
    await writeFile(path, Buffer.concat([Buffer.from('bplist00'), Buffer.from([0xd1, 0x01, 0x02])]));
    const xml = await readFile(join(fixtures, 'managed-preferences.plist'), 'utf8');
    const calls: string[][] = [];
    const plutil: CommandRunner = async (command, args) => {
      calls.push([command, ...args]);
      return { code: 0, stdout: xml, stderr: '' };
    };
    const result = await loadManagedPreferences({ readFile: readFileOrNull, run: plutil, path });
    expect(calls).toEqual([['/usr/bin/plutil', '-convert', 'xml1', '-o', '-', path]]);
    expect(result.values.relayUrl).toBe('https://relay.hospital.example:8780');
  });

  it('reports a plist it cannot read as a failed source, naming the file', async () => {
    const path = join(dir, 'broken.plist');
    await writeFile(path, '<?xml version="1.0"?><plist><dict><key>relayUrl</key></plist>');
    const result = await loadManagedPreferences({ readFile: readFileOrNull, run: noCommands, path });
    expect(result.status).toBe('failed');
    expect(result.problems[0]!.message).toContain(`${path} is not a valid property list`);
    const binary = join(dir, 'binary-fails.plist');
    await writeFile(binary, 'bplist00garbage');
    const failing: CommandRunner = async () => ({ code: 1, stdout: '', stderr: 'Property List error: Unexpected character' });
    expect((await loadManagedPreferences({ readFile: readFileOrNull, run: failing, path: binary })).problems[0]!.message).toMatch(/plutil could not convert it: Property List error/);
  });

  it('finds no policy when no profile is installed', async () => {
    const result = await loadManagedPreferences({ readFile: readFileOrNull, run: noCommands, path: join(dir, 'none.plist') });
    expect(result).toMatchObject({ status: 'absent', problems: [] });
  });
});

describe('JSON policy files', () => {
  it('reads /etc/relaypacs/policy.json: folder defaults, "off", a comma-separated window string', async () => {
    const result = await loadJsonPolicyFile(join(fixtures, 'linux-policy.json'), readFileOrNull, 'linux-policy-file', 'posix');
    expect(result).toMatchObject({ kind: 'linux-policy-file', status: 'applied', problems: [], failedKeys: [] });
    expect(result.values).toEqual({
      relayUrl: 'https://relay.hospital.example:8780',
      watchedFolders: [
        { path: '/srv/modality/ct', serviceLevel: 'ROUTINE', afterDelivery: 'delete', usePolling: true },
        { path: '/srv/modality/mr', serviceLevel: 'STAT', afterDelivery: 'move', doneFolder: '/srv/modality/sent/mr', usePolling: true },
      ],
      maxBytesPerSecond: 0,
      routineWindows: ['22:00-06:00'],
      updates: { enabled: false },
      startAtLogin: false,
    });
  });

  it('names the file and the key of every invalid value, and refuses secrets', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, JSON.stringify({
      relayUrl: 'https://device:hunter2@relay.example',
      deviceAccount: { username: 'ct-01', password: 'hunter2' },
      routineWindows: ['25:00-07:00'],
      watchedFolders: [{ path: '/srv/in', afterDelivery: 'move', doneFolder: '/srv/in/sent' }],
      updates: { enabled: 'yes' },
      colour: 'blue',
    }));
    const result = await loadJsonPolicyFile(path, readFileOrNull, 'policy-file', 'posix');
    expect(result.status).toBe('applied');
    expect([...result.failedKeys].sort()).toEqual(['deviceAccount', 'relayUrl', 'routineWindows', 'updates', 'watchedFolders']);
    const messages = result.problems.map((p) => `${p.source} | ${p.key} | ${p.severity} | ${p.message}`);
    expect(messages).toEqual(expect.arrayContaining([
      `${path} | relayUrl | error | relayUrl: must not contain a user name or password: policy never carries credentials`,
      expect.stringMatching(/deviceAccount\.password \| error \| .*never carries a secret/),
      expect.stringMatching(/routineWindows \| error \| .*"25:00" .* not a time of day/),
      expect.stringMatching(/watchedFolders\[0\]\.doneFolder \| error \| .*inside it.*not watched/),
      expect.stringMatching(/updates\.enabled \| error \| updates\.enabled: must be true or false/),
      expect.stringMatching(/colour \| warning \| unknown policy key colour, ignored/),
    ]));
    expect(result.values).toEqual({ watchedFolders: [] });
  });

  it('reports a file that is not JSON, or is named but missing, as a failed source', async () => {
    const path = join(dir, 'not-json.json');
    await writeFile(path, '{ "relayUrl": ');
    expect((await loadJsonPolicyFile(path, readFileOrNull)).problems[0]!.message).toMatch(/not-json\.json is not valid JSON/);
    const missing = await loadJsonPolicyFile(join(dir, 'missing.json'), readFileOrNull);
    expect(missing.status).toBe('failed');
    expect(missing.problems[0]!.message).toMatch(/does not exist/);
    // The machine path missing is simply "no policy".
    expect((await loadJsonPolicyFile(join(dir, 'missing.json'), readFileOrNull, 'linux-policy-file')).status).toBe('absent');
  });

  it('reports a file it may not read, without crashing', async () => {
    const denied = async (): Promise<never> => { throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }); };
    const result = await loadJsonPolicyFile('/etc/relaypacs/policy.json', denied, 'linux-policy-file');
    expect(result).toMatchObject({ status: 'failed' });
    expect(result.problems[0]!.message).toBe('/etc/relaypacs/policy.json cannot be read: EACCES: permission denied');
  });
});
