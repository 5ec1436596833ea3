// @vitest-environment jsdom
import '../support/dom';
import { render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/common/error-codes';
import { App } from '../../../src/renderer/app/app';
import { installFakeApi, refuse } from '../support/fake-api';
import { SESSION, settingsView, STATUS } from '../support/fixtures';

function signedOut(extra: Parameters<typeof installFakeApi>[0] = {}) {
  return installFakeApi({ 'session:get': () => null, 'status:get': () => STATUS, 'settings:get': () => settingsView(), 'queue:list': () => [], ...extra });
}

describe('sign-in screen', () => {
  it('signs in with relay, user and password, then shows the app', async () => {
    const fake = signedOut({ 'session:sign-in': () => SESSION });
    const user = userEvent.setup();
    render(<App />);
    const relay = await screen.findByLabelText('Relay address');
    // The relay the core knows fills the field.
    await waitFor(() => expect((relay as HTMLInputElement).value).toBe('https://relay.example.test'));
    await user.type(screen.getByLabelText('User name'), 'rad1');
    await user.type(screen.getByLabelText('Password'), 'secret');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('navigation', { name: 'Main' })).toBeTruthy();
    expect(fake.requestsTo('session:sign-in')).toEqual([{ relayUrl: 'https://relay.example.test', username: 'rad1', password: 'secret' }]);
    expect(screen.getByText('rad1')).toBeTruthy();
  });

  it('goes straight in when the core remembers the session', async () => {
    installFakeApi({ 'session:get': () => SESSION, 'status:get': () => STATUS, 'settings:get': () => settingsView() });
    render(<App />);
    expect(await screen.findByRole('heading', { level: 1, name: 'Import' })).toBeTruthy();
    expect(screen.queryByLabelText('Password')).toBeNull();
  });

  it('shows a refusal in words with its code', async () => {
    signedOut({ 'session:sign-in': () => { throw refuse('SIGN_IN_FAILED', 'AUTH_INVALID_CREDENTIALS'); } });
    const user = userEvent.setup();
    render(<App />);
    await user.type(await screen.findByLabelText('User name'), 'rad1');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain(ERROR_CODES.SIGN_IN_FAILED);
    expect(alert.textContent).toContain('SIGN_IN_FAILED');
    // A wrong password does not make up a code field.
    expect(screen.queryByLabelText('Authenticator code')).toBeNull();
    expect((screen.getByLabelText('Password') as HTMLInputElement).value).toBe('');
  });

  it('shows the code field when the relay asks for one, focuses it, and sends the code', async () => {
    const fake = signedOut({
      'session:sign-in': (request) => {
        if (!request.totp) throw refuse('SIGN_IN_FAILED', 'AUTH_TOTP_REQUIRED');
        return SESSION;
      },
    });
    const user = userEvent.setup();
    render(<App />);
    await user.type(await screen.findByLabelText('User name'), 'rad1');
    await user.type(screen.getByLabelText('Password'), 'secret');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const code = await screen.findByLabelText('Authenticator code');
    expect(document.activeElement).toBe(code);
    expect(screen.getByRole('alert').textContent).toMatch(/authenticator app/);
    // The password was right: it stays, only the code is added.
    expect((screen.getByLabelText('Password') as HTMLInputElement).value).toBe('secret');
    await user.type(code, '123 456');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    await screen.findByRole('navigation', { name: 'Main' });
    expect(fake.requestsTo('session:sign-in')[1]).toEqual({ relayUrl: SESSION.relayUrl, username: 'rad1', password: 'secret', totp: '123456' });
  });

  it('always lets the user enter a code', async () => {
    signedOut();
    const user = userEvent.setup();
    render(<App />);
    await user.click(await screen.findByRole('button', { name: 'I have an authenticator code' }));
    expect(screen.getByLabelText('Authenticator code')).toBeTruthy();
  });

  it('says what is missing before asking the relay', async () => {
    const fake = signedOut();
    const user = userEvent.setup();
    render(<App />);
    await user.click(await screen.findByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert').textContent).toMatch(/Enter the relay address, your user name and your password/);
    await user.clear(screen.getByLabelText('Relay address'));
    await user.type(screen.getByLabelText('Relay address'), 'relay.example.test');
    await user.type(screen.getByLabelText('User name'), 'rad1');
    await user.type(screen.getByLabelText('Password'), 'x');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(screen.getByRole('alert').textContent).toMatch(/starts with https:\/\//);
    expect(fake.requestsTo('session:sign-in')).toEqual([]);
  });

  it('shows a relay address fixed by IT as locked', async () => {
    signedOut({ 'settings:get': () => settingsView({ locked: { relayUrl: true } }) });
    render(<App />);
    const relay = (await screen.findByLabelText('Relay address')) as HTMLInputElement;
    await waitFor(() => expect(relay.readOnly).toBe(true));
    expect(relay.getAttribute('aria-describedby')).toBe('sign-in-relay-locked');
    expect(document.getElementById('sign-in-relay-locked')?.textContent).toMatch(/Set by your IT department/);
  });
});
