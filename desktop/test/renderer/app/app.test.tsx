// @vitest-environment jsdom
import '../support/dom';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { App } from '../../../src/renderer/app/app';
import { installFakeApi, refuse } from '../support/fake-api';
import { queueItem, settingsView, signedInHandlers, STATUS } from '../support/fixtures';

describe('app shell', () => {
  it('navigates between the five screens and marks the current one', async () => {
    installFakeApi(signedInHandlers());
    const user = userEvent.setup();
    render(<App />);
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    const buttons = within(nav).getAllByRole('button');
    expect(buttons.map((b) => b.textContent)).toEqual(['Import', 'Queue', 'Watched folders', 'History', 'Settings']);
    expect(within(nav).getByRole('button', { name: 'Import' }).getAttribute('aria-current')).toBe('page');
    for (const [name, heading] of [
      ['Queue', 'Queue'],
      ['Watched folders', 'Watched folders'],
      ['History', 'History'],
      ['Settings', 'Settings'],
      ['Import', 'Import'],
    ] as const) {
      await user.click(within(nav).getByRole('button', { name }));
      const h1 = await screen.findByRole('heading', { level: 1, name: heading });
      // Focus moves to the new screen's heading.
      expect(document.activeElement).toBe(h1);
      expect(within(nav).getByRole('button', { name }).getAttribute('aria-current')).toBe('page');
    }
  });

  it('shows online/offline and activity in words, live', async () => {
    const fake = installFakeApi({ ...signedInHandlers(), 'status:get': () => ({ ...STATUS, activity: 'sending', queued: 3, sending: 1 }) });
    render(<App />);
    const status = await screen.findByRole('status', { name: 'Connection and activity' });
    await waitFor(() => expect(status.textContent).toContain('Online'));
    expect(status.textContent).toContain('Sending');
    expect(status.textContent).toContain('3 waiting · 1 sending · 0 need attention');
    act(() => fake.emit('status:changed', { ...STATUS, online: false, activity: 'attention', failed: 1 }));
    expect(status.textContent).toContain('Offline');
    expect(status.textContent).toContain('Needs attention');
    expect(status.textContent).toContain('1 needs attention');
  });

  it('signs out, forgets what was shown, and goes back to sign-in', async () => {
    const fake = installFakeApi({ ...signedInHandlers(), 'queue:list': () => [queueItem()] });
    const user = userEvent.setup();
    render(<App initialScreen="queue" />);
    await screen.findByRole('progressbar', { name: 'Progress for DOE, JANE' });
    await user.click(screen.getByRole('button', { name: 'Sign out' }));
    expect(await screen.findByLabelText('Password')).toBeTruthy();
    expect(fake.requestsTo('session:sign-out')).toHaveLength(1);
    expect(screen.queryByText('DOE, JANE')).toBeNull();
  });

  it('returns to sign-in with the reason when the session ends', async () => {
    const fake = installFakeApi(signedInHandlers());
    const user = userEvent.setup();
    render(<App />);
    await screen.findByRole('navigation', { name: 'Main' });
    fake.handlers['queue:list'] = () => {
      throw refuse('SESSION_EXPIRED');
    };
    await user.click(screen.getByRole('button', { name: 'Queue' }));
    expect(await screen.findByLabelText('Password')).toBeTruthy();
    expect(screen.getByRole('status').textContent).toBe('Your session has ended. Sign in again to keep sending.');
  });

  it('applies the theme setting to the page', async () => {
    installFakeApi({ ...signedInHandlers(), 'settings:get': () => settingsView({ settings: { ...settingsView().settings, theme: 'dark' } }) });
    render(<App />);
    await screen.findByRole('navigation', { name: 'Main' });
    await waitFor(() => expect(document.documentElement.dataset.theme).toBe('dark'));
  });
});

describe('keyboard', () => {
  it('reaches the skip link, sign-out, navigation and the screen controls with Tab, and activates with Enter and Space', async () => {
    installFakeApi({ ...signedInHandlers(), 'import:choose': () => [] });
    const user = userEvent.setup();
    render(<App />);
    await screen.findByRole('navigation', { name: 'Main' });
    const order: string[] = [];
    for (let i = 0; i < 9; i += 1) {
      await user.tab();
      const el = document.activeElement as HTMLElement;
      order.push(el.getAttribute('aria-label') ?? el.textContent ?? '');
    }
    expect(order).toEqual(['Skip to content', 'Sign out', 'Import', 'Queue', 'Watched folders', 'History', 'Settings', 'Choose folder…', 'Choose files…']);

    // Shift+Tab back to "Settings" and open it with Enter; Space works too.
    await user.tab({ shift: true });
    await user.tab({ shift: true });
    expect(document.activeElement?.textContent).toBe('Settings');
    await user.keyboard('{Enter}');
    expect(await screen.findByRole('heading', { level: 1, name: 'Settings' })).toBeTruthy();
    screen.getByRole('button', { name: 'History' }).focus();
    await user.keyboard(' ');
    expect(await screen.findByRole('heading', { level: 1, name: 'History' })).toBeTruthy();
  });

  it('gives every button, field and progress bar an accessible name on every screen', async () => {
    installFakeApi({
      ...signedInHandlers(),
      'queue:list': () => [queueItem(), queueItem({ jobId: 2, state: 'failed', error: { code: 'RELAY_UNREACHABLE', message: 'x' } })],
    });
    const user = userEvent.setup();
    render(<App />);
    for (const name of ['Import', 'Queue', 'Watched folders', 'History', 'Settings']) {
      await user.click(await screen.findByRole('button', { name }));
      await screen.findByRole('heading', { level: 1, name });
      const controls = document.querySelectorAll<HTMLElement>('button, input, select, textarea, [role="progressbar"], a[href]');
      expect(controls.length).toBeGreaterThan(0);
      for (const control of controls) {
        const labelled =
          control.getAttribute('aria-label') ||
          control.getAttribute('aria-labelledby') ||
          (control.id && document.querySelector(`label[for="${control.id}"]`)) ||
          control.closest('label') ||
          control.textContent?.trim();
        expect(labelled, `${name}: ${control.outerHTML.slice(0, 120)}`).toBeTruthy();
      }
    }
  });
});
