import { describe, expect, it } from 'vitest';
import { checkAccountName, deviceAccount, userAccount } from '../../../src/core/secrets/credential-account.js';

describe('keychain account names', () => {
  it('names a user token and a device secret by relay origin', () => {
    expect(userAccount('https://relay.example:8780', 'alice')).toBe('relay:https://relay.example:8780/user:alice');
    expect(deviceAccount('https://relay.example:8780')).toBe('relay:https://relay.example:8780/device');
  });

  it('gives every spelling of one relay address the same name', () => {
    const name = 'relay:https://relay.example/user:alice';
    for (const url of ['https://relay.example', 'https://Relay.Example/', 'https://relay.example:443/api/v1?x=1#y', 'https://someone:pw@relay.example']) {
      expect(userAccount(url, 'alice')).toBe(name);
    }
    expect(userAccount('http://relay.example:80', 'alice')).toBe('relay:http://relay.example/user:alice');
  });

  it('keeps user names as typed, including case and unicode', () => {
    expect(userAccount('https://relay.example', 'Zoë.O/Brien')).toBe('relay:https://relay.example/user:Zoë.O/Brien');
  });

  it('refuses what cannot name an item', () => {
    expect(() => userAccount('not a url', 'alice')).toThrow(RangeError);
    expect(() => userAccount('ftp://relay.example', 'alice')).toThrow(RangeError);
    expect(() => userAccount('https://relay.example', '')).toThrow(RangeError);
    expect(() => userAccount('https://relay.example', 'a\u0000b')).toThrow(RangeError);
    expect(() => checkAccountName('x'.repeat(1025))).toThrow(RangeError);
    expect(() => checkAccountName('relay:https://relay.example/device')).not.toThrow();
  });
});
