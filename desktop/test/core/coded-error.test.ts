// One error-to-code-and-sentence mapping for the desktop's IPC answers and the CLI's output: the same
// code everywhere; the CLI keeps the agent's own advice in its words; no unexpected error's message
// (it can hold a patient-named path) is ever the sentence.
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/common/error-codes.js';
import { CodedFailure, sentence, toCodedError } from '../../src/core/coded-error.js';
import { KeychainUnavailableError } from '../../src/core/secrets/credential-store.js';
import { NotSignedInError } from '../../src/core/session/agent-session.js';
import { SettingsError } from '../../src/core/settings/agent-settings.js';
import { RelayRequestError } from '../../src/core/upload/relay-client.js';
import { WatchedFolderConfigError } from '../../src/core/watch/watched-folder-config.js';

const PATH = '/data/DOE^JANE 1970/IM0001';
const enoent = () => Object.assign(new Error(`ENOENT: no such file or directory, open '${PATH}'`), { code: 'ENOENT', path: PATH });

describe('toCodedError', () => {
  it('keeps a meant refusal as it is, and gives the table sentence for known failures', () => {
    expect(toCodedError(new CodedFailure('NOT_ALLOWED', 'Not here.', 'locked: x'))).toEqual({ code: 'NOT_ALLOWED', message: 'Not here.', detail: 'locked: x' });
    expect(toCodedError(new KeychainUnavailableError('no-session-bus', 'There is no D-Bus session bus.'))).toEqual({ code: 'KEYCHAIN_UNAVAILABLE', message: ERROR_CODES.KEYCHAIN_UNAVAILABLE, detail: 'no-session-bus' });
    expect(toCodedError(new NotSignedInError('not signed in'))).toEqual({ code: 'SESSION_EXPIRED', message: ERROR_CODES.SESSION_EXPIRED });
    expect(toCodedError(new SettingsError('routine window: "8pm" is not a time of day'))).toEqual({ code: 'INVALID_REQUEST', message: 'Routine window: "8pm" is not a time of day.' });
    expect(toCodedError(new RelayRequestError('bad password', 401, 'AUTH_INVALID_CREDENTIALS', undefined, false))).toMatchObject({ code: 'SIGN_IN_FAILED', message: ERROR_CODES.SIGN_IN_FAILED });
    expect(toCodedError(new WatchedFolderConfigError(['usePolling must be true or false']))).toEqual({ code: 'INVALID_REQUEST', message: 'Polling must be true or false.' });
  });

  it('gives a file system error as FILE_UNREADABLE with its errno, never its message (it holds the path)', () => {
    const file = toCodedError(enoent());
    expect(file).toEqual({ code: 'FILE_UNREADABLE', message: ERROR_CODES.FILE_UNREADABLE, detail: 'ENOENT' });
    expect(JSON.stringify(file)).not.toMatch(/DOE|JANE|1970/);
  });

  it('gives anything else as INTERNAL with its class name only, never its message', () => {
    expect(toCodedError(Object.assign(new RangeError(`bad offset in ${PATH}`), { code: 'ERR_OUT_OF_RANGE' }))).toEqual({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail: 'RangeError' });
    expect(toCodedError('a string')).toEqual({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail: 'string' });
  });

  it('for the CLI (ownWords): the same codes, the agent\'s own advice in its words, a file error by its errno sentence', () => {
    const own = (error: unknown) => toCodedError(error, { ownWords: true });
    expect(own(new KeychainUnavailableError('file-unsafe', 'The credential file has mode 0644; run chmod 600.'))).toEqual({ code: 'KEYCHAIN_UNAVAILABLE', message: 'The credential file has mode 0644; run chmod 600.', detail: 'file-unsafe' });
    expect(own(new NotSignedInError('not signed in: run `relaypacs login` first'))).toEqual({ code: 'SESSION_EXPIRED', message: 'not signed in: run `relaypacs login` first' });
    expect(own(new SettingsError('routine window: "8pm" is not a time of day'))).toEqual({ code: 'INVALID_REQUEST', message: 'routine window: "8pm" is not a time of day' });
    expect(own(new WatchedFolderConfigError(['usePolling must be true or false']))).toEqual({ code: 'INVALID_REQUEST', message: 'invalid watched folder settings: usePolling must be true or false' });
    expect(own(new RelayRequestError('the relay could not be reached (SELF_SIGNED_CERT_IN_CHAIN)', undefined, undefined, undefined, true)))
      .toEqual({ code: 'RELAY_UNREACHABLE', message: 'the relay could not be reached (SELF_SIGNED_CERT_IN_CHAIN)', detail: 'network' });
    // A refusal's words are the relay's: the table's sentence, as on the desktop.
    expect(own(new RelayRequestError('bad password', 401, 'AUTH_INVALID_CREDENTIALS', undefined, false))).toMatchObject({ code: 'SIGN_IN_FAILED', message: ERROR_CODES.SIGN_IN_FAILED });
    const file = own(enoent());
    expect(file).toEqual({ code: 'FILE_UNREADABLE', message: 'a file or folder could not be read (it does not exist)', detail: 'ENOENT' });
    expect(JSON.stringify(file)).not.toMatch(/DOE|JANE|1970/);
    expect(own(Object.assign(new RangeError('x'), { code: 'ERR_SOMETHING' }))).toEqual({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL, detail: 'RangeError' });
  });

  it('sentence capitalises and ends a clause', () => {
    expect(sentence('foo must be bar; baz')).toBe('Foo must be bar; baz.');
    expect(sentence('Done!')).toBe('Done!');
    expect(sentence('  ')).toBe('');
  });
});
