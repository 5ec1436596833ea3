// @vitest-environment jsdom
import '../support/dom';
import { act, render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../src/common/error-codes';
import type { QueueItem } from '../../../src/common/ipc-contract';
import { QueueScreen } from '../../../src/renderer/features/queue/queue-screen';
import { connectLiveUpdates } from '../../../src/renderer/stores/live-updates';
import { installFakeApi } from '../support/fake-api';
import { queueItem } from '../support/fixtures';

const sending = queueItem();
const stat = queueItem({ jobId: 2, patientName: 'ROE^RICHARD', serviceLevel: 'STAT', state: 'queued', bytesSent: 0, bytesPerSecond: 0, etaSeconds: null });
const failed = queueItem({
  jobId: 3,
  patientName: 'POE^EDGAR',
  state: 'failed',
  bytesSent: 10_000_000,
  bytesPerSecond: 0,
  etaSeconds: null,
  error: { code: 'PACS_REJECTED', message: ERROR_CODES.PACS_REJECTED },
});

function withQueue(items: QueueItem[]) {
  return installFakeApi({ 'queue:list': () => items, 'queue:act': () => ({ changed: 1 }) });
}

describe('queue screen', () => {
  it('says when a study\'s files had a DICOM file header added', async () => {
    withQueue([queueItem({ fileHeaderAdded: 2 })]);
    render(<QueueScreen />);
    const list = await screen.findByRole('list', { name: 'Studies in the queue' });
    expect(within(list).getAllByRole('listitem')[0]!.textContent).toContain('DICOM file header added to 2 images');
  });

  it('shows each study with progress, speed, time left, state in words and a STAT badge', async () => {
    withQueue([sending, stat, failed]);
    render(<QueueScreen />);
    const list = await screen.findByRole('list', { name: 'Studies in the queue' });
    const items = within(list).getAllByRole('listitem');
    expect(items).toHaveLength(3);

    const bar = within(items[0]!).getByRole('progressbar', { name: 'Progress for DOE, JANE' });
    expect(bar.getAttribute('aria-valuenow')).toBe('25');
    expect(bar.getAttribute('aria-valuetext')).toBe('25%, 25.0 MB of 100 MB');
    expect(items[0]!.textContent).toContain('2.5 MB/s');
    expect(items[0]!.textContent).toContain('less than a minute left');
    expect(items[0]!.textContent).toContain('Sending');

    expect(within(items[1]!).getByText('STAT')).toBeTruthy();
    expect(items[1]!.textContent).toContain('Waiting to send');
    expect(within(items[0]!).queryByText('STAT')).toBeNull();

    expect(screen.getByText('1 waiting · 1 sending · 1 needs attention')).toBeTruthy();
  });

  it('explains a failure: what happened, what to do, and the code', async () => {
    withQueue([failed]);
    render(<QueueScreen />);
    const item = await screen.findByRole('listitem');
    expect(item.textContent).toContain('Needs attention');
    expect(item.textContent).toContain(`Why it failed: ${ERROR_CODES.PACS_REJECTED}`);
    expect(item.textContent).toMatch(/What to do: Tell the PACS administrator/);
    expect(item.textContent).toContain('Error code: PACS_REJECTED');
    expect(within(item).getByRole('button', { name: 'Retry POE, EDGAR' })).toBeTruthy();
    expect(within(item).getByRole('button', { name: 'Cancel POE, EDGAR' })).toBeTruthy();
    expect(within(item).queryByRole('button', { name: /Pause/ })).toBeNull();
  });

  it('pauses, resumes, retries and cancels one study', async () => {
    const fake = withQueue([sending, stat, failed]);
    const user = userEvent.setup();
    render(<QueueScreen />);
    await user.click(await screen.findByRole('button', { name: 'Pause DOE, JANE' }));
    await user.click(screen.getByRole('button', { name: 'Retry POE, EDGAR' }));
    await user.click(screen.getByRole('button', { name: 'Cancel ROE, RICHARD' }));
    expect(fake.requestsTo('queue:act')).toEqual([
      { action: 'pause', jobId: 1 },
      { action: 'retry', jobId: 3 },
      { action: 'cancel', jobId: 2 },
    ]);
    expect(screen.getByText('Cancelled 1 study.')).toBeTruthy();
  });

  it('acts on all studies, asking before cancelling them all', async () => {
    const fake = withQueue([sending, queueItem({ jobId: 4, patientName: 'LOE^LISA', state: 'paused' }), failed]);
    const user = userEvent.setup();
    render(<QueueScreen />);
    await screen.findByRole('list');
    await user.click(screen.getByRole('button', { name: 'Pause all' }));
    await user.click(screen.getByRole('button', { name: 'Resume all' }));
    await user.click(screen.getByRole('button', { name: 'Retry all' }));
    await user.click(screen.getByRole('button', { name: 'Cancel all' }));
    // Focus lands on the safe answer; nothing is cancelled yet.
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Keep them' }));
    expect(fake.requestsTo('queue:act').map((r) => r.action)).toEqual(['pause', 'resume', 'retry']);
    await user.click(screen.getByRole('button', { name: 'Yes, cancel all' }));
    expect(fake.requestsTo('queue:act')).toEqual([
      { action: 'pause', jobId: 'all' },
      { action: 'resume', jobId: 'all' },
      { action: 'retry', jobId: 'all' },
      { action: 'cancel', jobId: 'all' },
    ]);
  });

  it('follows queue:changed live', async () => {
    const fake = withQueue([sending]);
    const disconnect = connectLiveUpdates();
    render(<QueueScreen />);
    await screen.findByRole('progressbar', { name: 'Progress for DOE, JANE' });
    act(() => fake.emit('queue:changed', [{ ...sending, bytesSent: 75_000_000, etaSeconds: 600 }]));
    expect(screen.getByRole('progressbar', { name: 'Progress for DOE, JANE' }).getAttribute('aria-valuenow')).toBe('75');
    expect(screen.getByText(/about 10 min left/)).toBeTruthy();
    act(() => fake.emit('queue:changed', [{ ...sending, state: 'delivered', bytesSent: 100_000_000 }]));
    disconnect();
    expect(screen.getByRole('listitem').textContent).toContain('In PACS');
    // Once the relay has the study it owns delivery: nothing to pause or cancel.
    expect(within(screen.getByRole('listitem')).queryByRole('button')).toBeNull();
  });

  it('renders only the rows in view of a long queue', async () => {
    const many = Array.from({ length: 500 }, (_, i) => queueItem({ jobId: i + 1, patientName: `PATIENT^${i + 1}` }));
    withQueue(many);
    render(<QueueScreen />);
    const list = await screen.findByRole('list', { name: 'Studies in the queue' });
    const shown = within(list).getAllByRole('listitem');
    expect(shown.length).toBeGreaterThan(0);
    expect(shown.length).toBeLessThan(30);
    expect(shown[0]!.getAttribute('aria-setsize')).toBe('500');
  });

  it('says when the queue is empty', async () => {
    withQueue([]);
    render(<QueueScreen />);
    expect(await screen.findByText(/Nothing in the queue/)).toBeTruthy();
    expect((screen.getByRole('button', { name: 'Pause all' }) as HTMLButtonElement).disabled).toBe(true);
  });
});
