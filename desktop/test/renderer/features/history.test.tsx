// @vitest-environment jsdom
import '../support/dom';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ERROR_CODES } from '../../../src/common/error-codes';
import type { HistoryFilter, HistoryItem } from '../../../src/common/ipc-contract';
import { HistoryScreen } from '../../../src/renderer/features/history/history-screen';
import { installFakeApi, refuse } from '../support/fake-api';
import { historyItem } from '../support/fixtures';

const items: HistoryItem[] = [
  historyItem(),
  historyItem({ jobId: 11, patientName: 'ROE^RICHARD', patientId: 'P002', serviceLevel: 'ROUTINE', state: 'failed', error: { code: 'PACS_REJECTED', message: ERROR_CODES.PACS_REJECTED } }),
];

function matches(item: HistoryItem, filter: HistoryFilter): boolean {
  if (filter.state && filter.state !== 'all' && item.state !== filter.state) return false;
  if (filter.serviceLevel && item.serviceLevel !== filter.serviceLevel) return false;
  if (filter.text && !`${item.patientName} ${item.patientId} ${item.description}`.toLowerCase().includes(filter.text.toLowerCase())) return false;
  return true;
}

describe('history screen', () => {
  it('lists finished studies with state in words and failures explained', async () => {
    installFakeApi({ 'history:list': () => items });
    render(<HistoryScreen />);
    const table = await screen.findByRole('table');
    const rows = within(table).getAllByRole('row');
    expect(rows).toHaveLength(3);
    expect(rows[1]!.textContent).toContain('DOE, JANE');
    expect(rows[1]!.textContent).toContain('In PACS, confirmed');
    expect(rows[1]!.textContent).toContain('STAT');
    expect(rows[2]!.textContent).toContain('Needs attention');
    expect(rows[2]!.textContent).toContain(ERROR_CODES.PACS_REJECTED);
    expect(screen.getByText('2 studies found.')).toBeTruthy();
  });

  it('filters by text, state, service level and dates', async () => {
    const fake = installFakeApi({ 'history:list': (filter) => items.filter((i) => matches(i, filter)) });
    const user = userEvent.setup();
    render(<HistoryScreen />);
    await screen.findByRole('table');
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'roe');
    await user.selectOptions(screen.getByLabelText('State'), 'failed');
    await user.selectOptions(screen.getByLabelText('Service level'), 'ROUTINE');
    await user.type(screen.getByLabelText('From'), '2024-01-01');
    await user.type(screen.getByLabelText('To'), '2024-12-31');
    await user.click(screen.getByRole('button', { name: 'Apply filters' }));
    await waitFor(() => expect(within(screen.getByRole('table')).getAllByRole('row')).toHaveLength(2));
    expect(fake.requestsTo('history:list').at(-1)).toEqual({ text: 'roe', state: 'failed', serviceLevel: 'ROUTINE', from: '2024-01-01', to: '2024-12-31' });
    expect(screen.getByText('1 study found.')).toBeTruthy();

    await user.click(screen.getByRole('button', { name: 'Clear filters' }));
    await waitFor(() => expect(within(screen.getByRole('table')).getAllByRole('row')).toHaveLength(3));
    expect(fake.requestsTo('history:list').at(-1)).toEqual({ state: 'all' });
  });

  it('applies the text filter with Enter and says when nothing matches', async () => {
    installFakeApi({ 'history:list': (filter) => items.filter((i) => matches(i, filter)) });
    const user = userEvent.setup();
    render(<HistoryScreen />);
    await screen.findByRole('table');
    await user.type(screen.getByRole('searchbox', { name: 'Search' }), 'nobody{Enter}');
    expect(await screen.findByText('No studies match these filters.')).toBeTruthy();
  });

  it('refuses a "From" date after the "To" date', async () => {
    const fake = installFakeApi({ 'history:list': () => items });
    const user = userEvent.setup();
    render(<HistoryScreen />);
    await screen.findByRole('table');
    await user.type(screen.getByLabelText('From'), '2024-12-31');
    await user.type(screen.getByLabelText('To'), '2024-01-01');
    await user.click(screen.getByRole('button', { name: 'Apply filters' }));
    expect(screen.getByRole('alert').textContent).toMatch(/"From" date is after the "To" date/);
    expect(fake.requestsTo('history:list')).toHaveLength(1);
  });

  it('exports the filtered history as a CSV download', async () => {
    const fake = installFakeApi({ 'history:list': () => items, 'history:export': () => ({ csv: 'patient,state\r\nDOE^JANE,confirmed\r\n', rows: 1 }) });
    const blobs: Blob[] = [];
    const createObjectURL = vi.fn((blob: Blob) => {
      blobs.push(blob);
      return 'blob:relaypacs/history';
    });
    Object.defineProperty(URL, 'createObjectURL', { value: createObjectURL, configurable: true });
    Object.defineProperty(URL, 'revokeObjectURL', { value: vi.fn(), configurable: true });
    const clicked: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this);
    });
    const user = userEvent.setup();
    render(<HistoryScreen />);
    await screen.findByRole('table');
    await user.selectOptions(screen.getByLabelText('State'), 'confirmed');
    await user.click(screen.getByRole('button', { name: 'Apply filters' }));
    await user.click(screen.getByRole('button', { name: 'Export CSV' }));
    expect(fake.requestsTo('history:export')).toEqual([{ state: 'confirmed' }]);
    expect(await blobs[0]!.text()).toBe('patient,state\r\nDOE^JANE,confirmed\r\n');
    expect(blobs[0]!.type).toMatch(/^text\/csv/);
    expect(clicked[0]!.href).toBe('blob:relaypacs/history');
    expect(clicked[0]!.download).toMatch(/^relaypacs-history-\d{4}-\d\d-\d\d\.csv$/);
    expect(screen.getByText(/Exported 1 study to relaypacs-history-/)).toBeTruthy();
  });

  it('shows why an export failed', async () => {
    installFakeApi({ 'history:list': () => items, 'history:export': () => { throw refuse('INTERNAL'); } });
    const user = userEvent.setup();
    render(<HistoryScreen />);
    await screen.findByRole('table');
    await user.click(screen.getByRole('button', { name: 'Export CSV' }));
    expect((await screen.findByRole('alert')).textContent).toContain(ERROR_CODES.INTERNAL);
  });
});
