// @vitest-environment jsdom
import '../support/dom';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type { HistoryFilter, HistoryItem } from '../../../src/common/ipc-contract';
import { HistoryScreen } from '../../../src/renderer/features/history/history-screen';
import { installFakeApi } from '../support/fake-api';
import { historyItem } from '../support/fixtures';

const reported = historyItem({
  jobId: 21, patientName: 'DOE^JANE',
  report: { reportId: 7, status: 'final', kind: 'sr', title: 'CT Report', detectedAt: '2024-01-31T12:00:00.000Z', contentAvailable: true },
});
const awaiting = historyItem({ jobId: 22, patientName: 'ROE^RICHARD', patientId: 'P002' });
const gone = historyItem({
  jobId: 23, patientName: 'POE^EDGAR', patientId: 'P003',
  report: { reportId: 8, status: 'preliminary', kind: 'pdf', detectedAt: '2024-01-01T12:00:00.000Z', contentAvailable: false },
});

beforeEach(() => {
  // jsdom has no modal dialogs: showModal opens, close closes and says so.
  HTMLDialogElement.prototype.showModal = vi.fn(function (this: HTMLDialogElement) { this.open = true; });
  HTMLDialogElement.prototype.close = vi.fn(function (this: HTMLDialogElement) { this.open = false; this.dispatchEvent(new Event('close')); });
});

describe('history: reports', () => {
  it('shows each study\'s report status, awaiting where none came, and reading only where the relay still keeps it', async () => {
    installFakeApi({ 'history:list': () => [reported, awaiting, gone] });
    render(<HistoryScreen />);
    const table = await screen.findByRole('table');
    expect(within(table).getByRole('columnheader', { name: 'Report' })).toBeTruthy();
    const rows = within(table).getAllByRole('row').slice(1);
    expect(within(rows[0]!).getByText('Final report')).toBeTruthy();
    expect(within(rows[0]!).getByRole('button', { name: /^Read the final report of / })).toBeTruthy();
    expect(within(rows[1]!).getByText('Awaiting report')).toBeTruthy();
    expect(within(rows[2]!).getByText('Preliminary report')).toBeTruthy();
    expect(within(rows[2]!).queryByRole('button', { name: /Read/ })).toBeNull();
    expect(within(rows[2]!).getByText('Read it in the PACS')).toBeTruthy();
  });

  it('filters by report status', async () => {
    const asked: HistoryFilter[] = [];
    installFakeApi({ 'history:list': (filter: HistoryFilter) => { asked.push(filter); return filter.report === 'awaiting' ? [awaiting] : [reported, awaiting]; } });
    render(<HistoryScreen />);
    await screen.findByRole('table');
    await userEvent.selectOptions(screen.getByLabelText('Report'), 'Awaiting report');
    await userEvent.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(asked.at(-1)).toMatchObject({ report: 'awaiting' }));
    expect(await screen.findByText('1 study found.')).toBeTruthy();
  });

  it('opens the report as text in a dialog, and closes it', async () => {
    const read: number[] = [];
    installFakeApi({
      'history:list': () => [reported],
      'reports:content': ({ reportId }: { reportId: number }) => { read.push(reportId); return { reportId, format: 'text', text: 'CT Report\n=========\n\nFindings\n  Finding: No fracture.\n' }; },
    });
    render(<HistoryScreen />);
    await userEvent.click(await screen.findByRole('button', { name: /Read the final report/ }));
    const dialog = await screen.findByRole('dialog', { name: 'CT Report' });
    expect(await within(dialog).findByText(/Finding: No fracture\./)).toBeTruthy();
    expect(read).toEqual([7]);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Close' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).toBeNull());
  });

  it('refreshes when new reports arrive', async () => {
    let items: HistoryItem[] = [awaiting];
    const api = installFakeApi({ 'history:list': () => items });
    render(<HistoryScreen />);
    expect(await screen.findByText('Awaiting report')).toBeTruthy();
    items = [{ ...awaiting, report: { reportId: 9, status: 'preliminary', kind: 'sr', detectedAt: '2024-01-31T12:00:00.000Z', contentAvailable: true } }];
    api.emit('reports:changed', { count: 1 });
    expect(await screen.findByText('Preliminary report')).toBeTruthy();
  });
});
