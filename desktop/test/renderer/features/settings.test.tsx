// @vitest-environment jsdom
import '../support/dom';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { LockedSettings, Settings } from '../../../src/common/ipc-contract';
import { SettingsScreen } from '../../../src/renderer/features/settings/settings-screen';
import { installFakeApi, refuse } from '../support/fake-api';
import { SETTINGS, settingsView } from '../support/fixtures';

function withSettings(locked: LockedSettings = {}) {
  let settings: Settings = structuredClone(SETTINGS);
  return installFakeApi({
    'settings:get': () => settingsView({ settings, locked }),
    'settings:set': (changes) => {
      settings = { ...settings, ...changes };
      return settingsView({ settings, locked });
    },
  });
}

describe('settings screen', () => {
  it('shows the current settings', async () => {
    withSettings();
    render(<SettingsScreen />);
    expect(((await screen.findByLabelText('Relay address')) as HTMLInputElement).value).toBe('https://relay.example.test');
    expect((screen.getByLabelText('Bandwidth limit (MB/s)') as HTMLInputElement).value).toBe('0');
    expect(within(screen.getByRole('list', { name: 'Routine sending times' })).getByText('19:00-07:00')).toBeTruthy();
    expect((screen.getByRole('checkbox', { name: 'Tell me when a STAT study is in PACS' }) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByRole('checkbox', { name: 'Install updates automatically' }) as HTMLInputElement).checked).toBe(true);
    expect((screen.getByLabelText('Update channel') as HTMLSelectElement).value).toBe('stable');
    expect((screen.getByRole('checkbox', { name: 'Start RelayPACS when I log in' }) as HTMLInputElement).checked).toBe(false);
    expect((screen.getByRole('radio', { name: 'Same as the system' }) as HTMLInputElement).checked).toBe(true);
  });

  it('saves only what changed, with the bandwidth in bytes per second', async () => {
    const fake = withSettings();
    const user = userEvent.setup();
    render(<SettingsScreen />);
    const bandwidth = await screen.findByLabelText('Bandwidth limit (MB/s)');
    await user.clear(bandwidth);
    await user.type(bandwidth, '2.5');
    await user.click(screen.getByRole('button', { name: 'Remove 19:00-07:00' }));
    await user.type(screen.getByLabelText('New time window (HH:MM-HH:MM)'), '20:00 - 06:30');
    await user.click(screen.getByRole('button', { name: 'Add time window' }));
    await user.type(screen.getByLabelText('New time window (HH:MM-HH:MM)'), '12:00-13:00{Enter}');
    await user.click(screen.getByRole('checkbox', { name: 'Tell me when a study needs attention' }));
    await user.selectOptions(screen.getByLabelText('Update channel'), 'beta');
    await user.click(screen.getByRole('checkbox', { name: 'Start RelayPACS when I log in' }));
    await user.click(screen.getByRole('radio', { name: 'Dark' }));
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(fake.requestsTo('settings:set')).toEqual([
      {
        maxBytesPerSecond: 2_500_000,
        routineWindows: ['20:00-06:30', '12:00-13:00'],
        notifications: { statDelivered: true, failures: false, reports: true },
        updates: { enabled: true, channel: 'beta' },
        startAtLogin: true,
        theme: 'dark',
      },
    ]);
    expect(await screen.findByText('Settings saved.')).toBeTruthy();
    expect((screen.getByRole('radio', { name: 'Dark' }) as HTMLInputElement).checked).toBe(true);
  });

  it('refuses a time window that is not HH:MM-HH:MM, and a negative bandwidth', async () => {
    const fake = withSettings();
    const user = userEvent.setup();
    render(<SettingsScreen />);
    await user.type(await screen.findByLabelText('New time window (HH:MM-HH:MM)'), '7pm-7am');
    await user.click(screen.getByRole('button', { name: 'Add time window' }));
    expect(screen.getByRole('alert').textContent).toMatch(/for example 19:00-07:00/);
    expect(screen.getByLabelText('New time window (HH:MM-HH:MM)').getAttribute('aria-invalid')).toBe('true');
    const bandwidth = screen.getByLabelText('Bandwidth limit (MB/s)');
    await user.clear(bandwidth);
    await user.type(bandwidth, '-1');
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    expect(screen.getAllByRole('alert').some((a) => /megabytes per second/.test(a.textContent ?? ''))).toBe(true);
    expect(fake.requestsTo('settings:set')).toEqual([]);
  });

  it('shows settings locked by IT policy as disabled, with a note', async () => {
    withSettings({ relayUrl: true, maxBytesPerSecond: true, updates: true, routineWindows: true });
    render(<SettingsScreen />);
    const relay = await screen.findByLabelText('Relay address');
    expect(relay.matches(':disabled')).toBe(true);
    expect(document.getElementById(relay.getAttribute('aria-describedby') ?? '')?.textContent).toBe(' Locked: Set by your IT department');
    expect(screen.getByLabelText('Bandwidth limit (MB/s)').matches(':disabled')).toBe(true);
    expect(screen.getByRole('checkbox', { name: 'Install updates automatically' }).matches(':disabled')).toBe(true);
    expect(screen.getByLabelText('Update channel').matches(':disabled')).toBe(true);
    expect(screen.getByRole('button', { name: 'Add time window' }).matches(':disabled')).toBe(true);
    expect(screen.getAllByText('Locked: Set by your IT department')).toHaveLength(4);
    // What is not locked stays editable.
    expect(screen.getByRole('checkbox', { name: 'Start RelayPACS when I log in' }).matches(':disabled')).toBe(false);
    expect(screen.getByRole('radio', { name: 'Dark' }).matches(':disabled')).toBe(false);
  });

  it('shows why saving was refused', async () => {
    const fake = withSettings();
    fake.handlers['settings:set'] = () => {
      throw refuse('INVALID_REQUEST', 'maxBytesPerSecond');
    };
    const user = userEvent.setup();
    render(<SettingsScreen />);
    await user.click(await screen.findByRole('checkbox', { name: 'Start RelayPACS when I log in' }));
    await user.click(screen.getByRole('button', { name: 'Save settings' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('The request was not valid. Check the values entered.');
    expect(alert.textContent).toContain('INVALID_REQUEST');
  });
});
