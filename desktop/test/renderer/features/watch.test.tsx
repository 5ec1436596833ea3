// @vitest-environment jsdom
import '../support/dom';
import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { WatchedFolder, WatchedFolderStatus } from '../../../src/common/ipc-contract';
import { WatchScreen } from '../../../src/renderer/features/watch/watch-screen';
import { connectLiveUpdates } from '../../../src/renderer/stores/live-updates';
import { installFakeApi, type FakeHandlers } from '../support/fake-api';
import { settingsView, watchedFolder } from '../support/fixtures';

function withFolders(initial: WatchedFolderStatus[], extra: FakeHandlers = {}) {
  let folders = initial;
  return installFakeApi({
    'settings:get': () => settingsView(),
    'watch:list': () => folders,
    'watch:add': (folder: WatchedFolder) => (folders = [...folders, { ...folder, state: 'starting', studiesSettling: 0 }]),
    'watch:remove': ({ path }) => (folders = folders.filter((f) => f.path !== path)),
    'import:choose': () => ['/mnt/share/ct-export'],
    ...extra,
  });
}

describe('watched folders screen', () => {
  it('lists folders with their live status', async () => {
    const fake = withFolders([
      watchedFolder({ lastFileSeen: { name: 'IM000120', at: '2024-01-31T10:05:00.000Z' }, studiesSettling: 2, routingTag: 'ct-pacs' }),
      watchedFolder({ path: '/mnt/usb-export', state: 'missing', message: 'The folder is not there (a share or USB drive may be disconnected).' }),
    ]);
    const disconnect = connectLiveUpdates();
    render(<WatchScreen />);
    const list = await screen.findByRole('list', { name: 'Watched folders' });
    const [first, second] = within(list).getAllByRole('listitem');
    expect(within(first!).getByRole('heading', { name: '/data/modality-export' })).toBeTruthy();
    expect(first!.textContent).toContain('Watching');
    expect(first!.textContent).toMatch(/IM000120 at 2024-01-31 \d\d:\d\d/);
    expect(first!.textContent).toContain('2 studies');
    expect(first!.textContent).toContain('ct-pacs');
    expect(second!.textContent).toContain('Folder missing');
    expect(second!.textContent).toContain('may be disconnected');

    act(() => fake.emit('watch:changed', [watchedFolder({ studiesSettling: 0, state: 'watching' })]));
    disconnect();
    expect(within(screen.getByRole('list', { name: 'Watched folders' })).getAllByRole('listitem')).toHaveLength(1);
  });

  it('adds a folder with its defaults', async () => {
    const fake = withFolders([]);
    const user = userEvent.setup();
    render(<WatchScreen />);
    expect(await screen.findByText('No folders are watched yet.')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Choose folder…' }));
    expect((screen.getByLabelText('Folder to watch') as HTMLInputElement).value).toBe('/mnt/share/ct-export');
    await user.selectOptions(screen.getByLabelText('Service level'), 'STAT');
    await user.type(screen.getByLabelText('Routing tag (optional)'), 'ct-pacs');
    await user.click(screen.getByRole('radio', { name: 'Move them to a done folder' }));
    await user.click(screen.getByRole('button', { name: 'Add folder' }));
    expect(screen.getByRole('alert').textContent).toMatch(/done folder/);
    await user.type(screen.getByLabelText('Done folder'), '/mnt/share/ct-done');
    await user.click(screen.getByRole('checkbox', { name: 'Check for new files by polling (for network shares)' }));
    await user.click(screen.getByRole('button', { name: 'Add folder' }));
    expect(fake.requestsTo('watch:add')).toEqual([
      { path: '/mnt/share/ct-export', serviceLevel: 'STAT', routingTag: 'ct-pacs', afterDelivery: 'move', doneFolder: '/mnt/share/ct-done', usePolling: true },
    ]);
    expect(await screen.findByRole('heading', { name: '/mnt/share/ct-export' })).toBeTruthy();
    expect(screen.getByText('Now watching /mnt/share/ct-export.')).toBeTruthy();
    expect((screen.getByLabelText('Folder to watch') as HTMLInputElement).value).toBe('');
  });

  it('removes a folder', async () => {
    const fake = withFolders([watchedFolder()]);
    const user = userEvent.setup();
    render(<WatchScreen />);
    await user.click(await screen.findByRole('button', { name: 'Remove /data/modality-export' }));
    expect(fake.requestsTo('watch:remove')).toEqual([{ path: '/data/modality-export' }]);
    expect(await screen.findByText('No folders are watched yet.')).toBeTruthy();
  });

  it('shows folders set by IT as locked, without Remove', async () => {
    withFolders([watchedFolder({ locked: true }), watchedFolder({ path: '/home/rad/mine' })]);
    render(<WatchScreen />);
    const [locked, mine] = within(await screen.findByRole('list', { name: 'Watched folders' })).getAllByRole('listitem');
    expect(locked!.textContent).toContain('Locked: Set by your IT department');
    expect(within(locked!).queryByRole('button', { name: /Remove/ })).toBeNull();
    expect(within(mine!).getByRole('button', { name: 'Remove /home/rad/mine' })).toBeTruthy();
  });

  it('disables adding and removing when IT policy fixes the whole list', async () => {
    withFolders([watchedFolder()], { 'settings:get': () => settingsView({ locked: { watchedFolders: true } }) });
    render(<WatchScreen />);
    expect(await screen.findByText('Locked: Watched folders are set by your IT department')).toBeTruthy();
    // Disabled through their fieldset, as the browser sees it.
    expect(screen.getByRole('button', { name: 'Add folder' }).matches(':disabled')).toBe(true);
    expect(screen.getByLabelText('Folder to watch').matches(':disabled')).toBe(true);
    expect(screen.queryByRole('button', { name: /^Remove/ })).toBeNull();
  });
});
