// The policy templates IT installs (build/policy) say what the loaders read: the ADMX writes only value
// names registry-policy.ts knows, every string and presentation it names is in the ADML, and the
// sample .mobileconfig and policy.example.json are valid policies with no problem at all.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadJsonPolicyFile } from '../../../src/core/policy/file-policy.js';
import { readFileOrNull } from '../../../src/core/policy/load-policy.js';
import { validatePolicyDocument } from '../../../src/core/policy/policy-validation.js';
import { REGISTRY_FOLDER_VALUE_NAMES, REGISTRY_VALUE_NAMES } from '../../../src/core/policy/registry-policy.js';
import { parseXmlPlist, type PlistValue } from '../../../src/core/policy/xml-plist.js';

const policyDir = join(import.meta.dirname, '../../../../build/policy');
const read = (name: string): Promise<string> => readFile(join(policyDir, name), 'utf8');

/** Well-formedness enough for a template: every tag closed in order, one root. */
function checkTagsBalanced(xml: string): void {
  const body = xml.replace(/<\?[\s\S]*?\?>/g, '').replace(/<!--[\s\S]*?-->/g, '');
  const stack: string[] = [];
  for (const match of body.matchAll(/<(\/?)([\w:.-]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (selfClosing) continue;
    if (closing) expect(stack.pop(), `</${name}> closes the element that is open`).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe('ADMX / ADML', () => {
  it('are well formed and every $(string.X) and $(presentation.X) of the ADMX is in the ADML', async () => {
    const admx = await read('RelayPACS.admx');
    const adml = await read('en-US/RelayPACS.adml');
    checkTagsBalanced(admx);
    checkTagsBalanced(adml);
    const strings = new Set([...adml.matchAll(/<string id="([^"]+)"/g)].map((m) => m[1]));
    const presentations = new Set([...adml.matchAll(/<presentation id="([^"]+)"/g)].map((m) => m[1]));
    const usedStrings = [...admx.matchAll(/\$\(string\.([^)]+)\)/g)].map((m) => m[1]);
    const usedPresentations = [...admx.matchAll(/\$\(presentation\.([^)]+)\)/g)].map((m) => m[1]);
    expect(usedStrings.filter((s) => !strings.has(s))).toEqual([]);
    expect(usedPresentations.filter((p) => !presentations.has(p))).toEqual([]);
  });

  it('every element has a control in its presentation, and every policy writes under the policy key', async () => {
    const admx = await read('RelayPACS.admx');
    const adml = await read('en-US/RelayPACS.adml');
    for (const policy of admx.matchAll(/<policy ([^>]*)>([\s\S]*?)<\/policy>/g)) {
      const attributes = policy[1]!;
      const body = policy[2]!;
      const name = /name="([^"]+)"/.exec(attributes)?.[1];
      const key = /key="([^"]+)"/.exec(attributes)?.[1];
      const presentation = /presentation="\$\(presentation\.([^)]+)\)"/.exec(attributes)?.[1];
      expect(key, name).toMatch(/^Software\\Policies\\RelayPACS(\\WatchedFolders(\\\d+)?)?$/);
      const ids = [...body.matchAll(/<(?:text|boolean|enum|multiText|decimal) id="([^"]+)"/g)].map((m) => m[1]);
      if (ids.length === 0) continue;
      expect(presentation, `${name} has elements, so it needs a presentation`).toBeDefined();
      const block = new RegExp(`<presentation id="${presentation}">([\\s\\S]*?)</presentation>`).exec(adml)?.[1] ?? '';
      for (const id of ids) expect(block, `${name}: control for ${id}`).toContain(`refId="${id}"`);
    }
  });

  it('writes only value names the registry loader reads', async () => {
    const admx = await read('RelayPACS.admx');
    const root = new Set<string>();
    const folder = new Set<string>();
    for (const policy of admx.matchAll(/<policy name="[^"]+"[^>]*key="([^"]+)"([^>]*)>([\s\S]*?)<\/policy>/g)) {
      const target = policy[1]!.includes('WatchedFolders') ? folder : root;
      for (const m of (policy[2]! + policy[3]!).matchAll(/valueName="([^"]+)"/g)) target.add(m[1]!);
    }
    expect([...root].filter((n) => !REGISTRY_VALUE_NAMES.includes(n))).toEqual([]);
    expect([...folder].filter((n) => !REGISTRY_FOLDER_VALUE_NAMES.includes(n))).toEqual([]);
    // And the template covers every root value the loader knows.
    expect([...root].sort()).toEqual([...REGISTRY_VALUE_NAMES].sort());
  });
});

describe('samples', () => {
  it('the .mobileconfig payload for com.relaypacs.desktop is a valid policy', async () => {
    const profile = parseXmlPlist(await read('com.relaypacs.desktop.mobileconfig')) as Record<string, PlistValue>;
    expect(profile.PayloadType).toBe('Configuration');
    expect(profile.PayloadScope).toBe('System');
    const payloads = profile.PayloadContent as Record<string, PlistValue>[];
    const payload = payloads.find((p) => p.PayloadType === 'com.relaypacs.desktop')!;
    const settings = Object.fromEntries(Object.entries(payload).filter(([k]) => !k.startsWith('Payload')));
    const result = validatePolicyDocument(settings, { source: 'mobileconfig', pathStyle: 'posix' });
    expect(result.problems).toEqual([]);
    expect(Object.keys(result.values).sort()).toEqual(['deviceAccount', 'maxBytesPerSecond', 'relayUrl', 'routineWindows', 'startAtLogin', 'updates', 'watchedFolders']);
    expect(result.values.maxBytesPerSecond).toBe(4_000_000);
  });

  it('policy.example.json sets every key with no problem', async () => {
    const result = await loadJsonPolicyFile(join(policyDir, 'policy.example.json'), readFileOrNull, 'linux-policy-file', 'posix');
    expect(result.problems).toEqual([]);
    expect(Object.keys(result.values).sort()).toEqual(['allowFileCredentialStore', 'deviceAccount', 'maxBytesPerSecond', 'relayUrl', 'routineWindows', 'startAtLogin', 'updates', 'watchedFolders']);
  });
});
