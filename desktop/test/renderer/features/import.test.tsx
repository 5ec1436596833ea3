// @vitest-environment jsdom
import '../support/dom';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { ImportReview } from '../../../src/common/ipc-contract';
import { ImportScreen } from '../../../src/renderer/features/import/import-screen';
import { connectLiveUpdates } from '../../../src/renderer/stores/live-updates';
import { installFakeApi, refuse } from '../support/fake-api';
import { importReview } from '../support/fixtures';

describe('import screen', () => {
  it('shows progress while importing, then the studies found and the problems', async () => {
    let finish!: (review: ImportReview) => void;
    const fake = installFakeApi({
      'import:choose': () => ['/media/cdrom'],
      'import:paths': () => new Promise<ImportReview>((resolve) => { finish = resolve; }),
    });
    const disconnect = connectLiveUpdates();
    const user = userEvent.setup();
    render(<ImportScreen onNavigate={vi.fn()} />);
    await user.click(screen.getByRole('button', { name: 'Choose folder…' }));
    expect(fake.requestsTo('import:choose')).toEqual([{ kind: 'folder' }]);
    expect(fake.requestsTo('import:paths')).toEqual([{ paths: ['/media/cdrom'] }]);
    const bar = screen.getByRole('progressbar', { name: 'Import progress' });
    expect(bar.hasAttribute('aria-valuenow')).toBe(false);
    act(() => fake.emit('import:progress', { found: 57, imported: 50, duplicates: 5, skipped: 2, current: 'DICOM/IM000057' }));
    expect(screen.getByText(/57 files found · 50 new · 5 already imported · 2 skipped/)).toBeTruthy();
    expect(screen.getByText('Reading DICOM/IM000057')).toBeTruthy();
    // The drop zone's buttons wait while the import runs.
    expect((screen.getByRole('button', { name: 'Choose files…' }) as HTMLButtonElement).disabled).toBe(true);

    await act(async () => finish(importReview()));
    disconnect();
    expect(screen.queryByRole('progressbar')).toBeNull();
    const table = screen.getByRole('table');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    const jane = rows[1]!;
    expect(within(jane).getByRole('rowheader').textContent).toContain('DOE, JANE');
    expect(jane.textContent).toContain('2024-01-31');
    expect(jane.textContent).toContain('CT');
    expect(jane.textContent).toContain('CT CHEST');
    expect(jane.textContent).toContain('62.9 MB');
    expect(rows[2]!.textContent).toContain('2 conflicting');
    const problems = screen.getByRole('region', { name: 'Problems found (1)' });
    expect(problems.textContent).toContain('DICOMDIR/README.TXT');
    expect(problems.textContent).toContain('This file is not a DICOM image.');
  });

  it('sends a study as STAT with its clinical history, leaves out an unselected one, and offers the queue', async () => {
    const fake = installFakeApi({ 'import:choose': () => ['/exports/a.zip'], 'import:paths': () => importReview(), 'import:send': () => ({ jobIds: [41] }) });
    const onNavigate = vi.fn();
    const user = userEvent.setup();
    render(<ImportScreen onNavigate={onNavigate} />);
    await user.click(screen.getByRole('button', { name: 'Choose files…' }));
    await user.selectOptions(await screen.findByRole('combobox', { name: 'Service level for DOE, JANE (2024-01-31)' }), 'STAT');
    await user.type(screen.getByRole('textbox', { name: 'Clinical history for DOE, JANE (2024-01-31)' }), 'Fall from ladder, query wrist fracture');
    await user.click(screen.getByRole('checkbox', { name: 'Send ROE, RICHARD (2024-02-01)' }));
    expect(screen.getByText('1 of 2 studies selected')).toBeTruthy();
    await user.click(screen.getByRole('button', { name: 'Send' }));
    expect(fake.requestsTo('import:send')).toEqual([
      { studies: [{ studyInstanceUid: '1.2.826.0.1.3680043.10.1', serviceLevel: 'STAT', clinicalHistory: 'Fall from ladder, query wrist fracture' }] },
    ]);
    expect((await screen.findByText(/1 study added to the queue/)).getAttribute('role')).toBe('status');
    await user.click(screen.getByRole('button', { name: 'Open the queue' }));
    expect(onNavigate).toHaveBeenCalledWith('queue');
    await user.click(screen.getByRole('button', { name: 'Import more' }));
    expect(screen.getByRole('button', { name: 'Choose folder…' })).toBeTruthy();
  });

  it('shows why sending was refused, in words', async () => {
    installFakeApi({ 'import:choose': () => ['/a'], 'import:paths': () => importReview(), 'import:send': () => { throw refuse('NOT_ALLOWED'); } });
    const user = userEvent.setup();
    render(<ImportScreen onNavigate={vi.fn()} />);
    await user.click(screen.getByRole('button', { name: 'Choose folder…' }));
    await user.click(await screen.findByRole('button', { name: 'Send' }));
    const alert = await screen.findByRole('alert');
    expect(alert.textContent).toContain('Your account is not allowed to do this.');
    expect(alert.textContent).toContain('NOT_ALLOWED');
    expect(screen.getByRole('table')).toBeTruthy();
  });

  it('imports dropped items by their paths, and says when they have none', async () => {
    const fake = installFakeApi({ 'import:paths': () => importReview() });
    render(<ImportScreen onNavigate={vi.fn()} />);
    const zone = screen.getByRole('region', { name: 'Add studies' });
    const file = new File(['DICM'], 'study.zip');
    fireEvent.drop(zone, { dataTransfer: { files: [file], dropEffect: 'copy' } });
    expect((await screen.findByRole('status')).textContent).toMatch(/could not tell where the dropped items are/);
    expect(fake.requestsTo('import:paths')).toEqual([]);

    Object.defineProperty(window, 'relaypacsFiles', { value: { pathForFile: () => '/Users/rad/Desktop/study.zip' }, configurable: true });
    await act(async () => {
      fireEvent.drop(zone, { dataTransfer: { files: [file], dropEffect: 'copy' } });
    });
    expect(fake.requestsTo('import:paths')).toEqual([{ paths: ['/Users/rad/Desktop/study.zip'] }]);
    expect(await screen.findByRole('table')).toBeTruthy();
  });

  it('says when an import finds no studies', async () => {
    installFakeApi({ 'import:choose': () => ['/empty'], 'import:paths': () => importReview({ studies: [], counts: { found: 1, imported: 0, duplicates: 0, conflicts: 0, skipped: 1 } }) });
    const user = userEvent.setup();
    render(<ImportScreen onNavigate={vi.fn()} />);
    await user.click(screen.getByRole('button', { name: 'Choose folder…' }));
    expect(await screen.findByText(/No studies were found/)).toBeTruthy();
    expect(screen.queryByRole('button', { name: 'Send' })).toBeNull();
  });
});
