// @vitest-environment jsdom
import '../support/dom';
import { describe, expect, it, vi } from 'vitest';
import { ERROR_CODES } from '../../../src/common/error-codes';
import { ApiError, invoke, onApiError, pathsOfDroppedFiles, subscribe } from '../../../src/renderer/lib/api-client';
import { installFakeApi, refuse } from '../support/fake-api';
import { queueItem, SESSION } from '../support/fixtures';

describe('api client', () => {
  it('unwraps an ok result into its value and passes the request through', async () => {
    const fake = installFakeApi({ 'session:sign-in': (request) => ({ ...SESSION, username: request.username }) });
    await expect(invoke('session:sign-in', { relayUrl: SESSION.relayUrl, username: 'rad2', password: 'pw' })).resolves.toEqual({ ...SESSION, username: 'rad2' });
    expect(fake.requestsTo('session:sign-in')).toEqual([{ relayUrl: SESSION.relayUrl, username: 'rad2', password: 'pw' }]);
  });

  it('turns a refusal into an ApiError with the code and its sentence', async () => {
    installFakeApi({ 'queue:list': () => { throw refuse('RELAY_UNREACHABLE', 'ECONNREFUSED'); } });
    const error = await invoke('queue:list').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'RELAY_UNREACHABLE', message: ERROR_CODES.RELAY_UNREACHABLE, detail: 'ECONNREFUSED' });
  });

  it('uses the table sentence when main sent a code without words, and INTERNAL for an unknown code', async () => {
    installFakeApi();
    const bare = new ApiError({ code: 'NOT_ALLOWED', message: '' });
    expect(bare.message).toBe(ERROR_CODES.NOT_ALLOWED);
    const unknown = new ApiError({ code: 'NO_SUCH_CODE' as never, message: '' });
    expect(unknown).toMatchObject({ code: 'INTERNAL', message: ERROR_CODES.INTERNAL });
  });

  it('reports a transport failure or a missing bridge as INTERNAL, never as a raw exception', async () => {
    const fake = installFakeApi({ 'status:get': () => { throw new Error('ipc pipe closed'); } });
    await expect(invoke('status:get')).rejects.toMatchObject({ code: 'INTERNAL', detail: 'ipc pipe closed' });
    Reflect.deleteProperty(window, 'api');
    await expect(invoke('status:get')).rejects.toMatchObject({ code: 'INTERNAL', detail: expect.stringMatching(/window\.api is missing/) });
    expect(fake.calls).toHaveLength(1);
  });

  it('tells error listeners about every refusal', async () => {
    installFakeApi({ 'queue:list': () => { throw refuse('SESSION_EXPIRED'); } });
    const heard = vi.fn();
    const stop = onApiError(heard);
    await invoke('queue:list').catch(() => undefined);
    stop();
    await invoke('queue:list').catch(() => undefined);
    expect(heard).toHaveBeenCalledTimes(1);
    expect(heard.mock.calls[0]?.[0]).toMatchObject({ code: 'SESSION_EXPIRED' });
  });

  it('subscribes to events and unsubscribes; without a bridge subscribing is a no-op', () => {
    const fake = installFakeApi();
    const heard = vi.fn();
    const stop = subscribe('queue:changed', heard);
    fake.emit('queue:changed', [queueItem()]);
    stop();
    fake.emit('queue:changed', []);
    expect(heard).toHaveBeenCalledTimes(1);
    Reflect.deleteProperty(window, 'api');
    expect(() => subscribe('queue:changed', heard)()).not.toThrow();
  });

  it('finds dropped files’ paths through the preload helper, leaving out files without one', () => {
    const a = new File(['x'], 'a.dcm');
    const b = new File(['y'], 'b.dcm');
    Object.defineProperty(window, 'relaypacsFiles', {
      value: { pathForFile: (file: File) => (file === a ? '/exports/a.dcm' : '') },
      configurable: true,
    });
    expect(pathsOfDroppedFiles([a, b])).toEqual(['/exports/a.dcm']);
    Object.defineProperty(window, 'relaypacsFiles', {
      value: { pathForFile: () => { throw new Error('not a file on disk'); } },
      configurable: true,
    });
    expect(pathsOfDroppedFiles([a])).toEqual([]);
  });
});
