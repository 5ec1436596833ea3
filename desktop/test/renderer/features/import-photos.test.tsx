// @vitest-environment jsdom
import '../support/dom';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { ImportReview, ReviewPhoto } from '../../../src/common/ipc-contract';
import { ImportScreen } from '../../../src/renderer/features/import/import-screen';
import { installFakeApi, Refusal } from '../support/fake-api';
import { importReview, reviewStudy } from '../support/fixtures';

const WOUND: ReviewPhoto = { path: '/scans/wound.jpg', displayName: '/scans/wound.jpg', width: 32, height: 48 };
const FORM: ReviewPhoto = { path: '/scans/request-form.png', displayName: '/scans/request-form.png', width: 1240, height: 1754 };

/** The review of an attachment, as main answers it: the study the photos joined, and their counts. */
function attachment(overrides: Partial<ImportReview> = {}): ImportReview {
  return { runId: 9, counts: { found: 1, imported: 1, duplicates: 0, conflicts: 0, skipped: 0 }, studies: [], problems: [], photos: [], ...overrides };
}

async function openReview(review: ImportReview, attach: (request: unknown) => ImportReview) {
  const fake = installFakeApi({ 'import:choose': () => ['/scans'], 'import:paths': () => review, 'import:attach-photos': attach });
  const user = userEvent.setup();
  render(<ImportScreen onNavigate={vi.fn()} />);
  await user.click(screen.getByRole('button', { name: 'Choose folder…' }));
  return { fake, user, panel: await screen.findByRole('region', { name: /^Photos found/ }) };
}

describe('photos panel', () => {
  it('lists the photos found and attaches the chosen ones to a study of the review', async () => {
    const roe = reviewStudy({ studyInstanceUid: '1.2.826.0.1.3680043.10.2', patientName: 'ROE^RICHARD', patientId: 'P002', studyDate: '20240201', description: 'XR HAND', modalities: ['CR'], seriesCount: 1, instanceCount: 3 });
    const { fake, user, panel } = await openReview(
      importReview({ studies: [reviewStudy(), roe], photos: [FORM, WOUND] }),
      () => attachment({ studies: [{ ...roe, modalities: ['CR', 'XC'], seriesCount: 2, instanceCount: 4 }] }),
    );
    expect(within(panel).getByRole('heading', { name: 'Photos found (2)' })).toBeTruthy();
    const wound = within(panel).getByRole('checkbox', { name: 'Attach /scans/wound.jpg' }) as HTMLInputElement;
    expect(wound.checked).toBe(true);
    expect(panel.textContent).toContain('32 × 48 pixels');
    const target = within(panel).getByRole('combobox', { name: 'Attach to' }) as HTMLSelectElement;
    expect([...target.options].map((o) => o.textContent)).toEqual(['DOE, JANE (2024-01-31) · CT CHEST', 'ROE, RICHARD (2024-02-01) · XR HAND', 'A new study…']);
    expect(target.value).toBe('1.2.826.0.1.3680043.10.1');
    // No new-study fields unless asked for.
    expect(within(panel).queryByRole('textbox', { name: 'Patient name' })).toBeNull();

    await user.selectOptions(target, 'ROE, RICHARD (2024-02-01) · XR HAND');
    await user.click(within(panel).getByRole('checkbox', { name: 'Attach /scans/request-form.png' }));
    expect(panel.textContent).toContain('1 of 2 selected');
    await user.click(within(panel).getByRole('button', { name: 'Attach photos' }));
    expect(fake.requestsTo('import:attach-photos')).toEqual([{ photos: ['/scans/wound.jpg'], target: { studyInstanceUid: '1.2.826.0.1.3680043.10.2' } }]);

    // The form that was left out still waits; the study shows its photo; the note says what to do next.
    expect((await screen.findByRole('region', { name: 'Photos found (1)' })).textContent).toContain('/scans/request-form.png');
    const row = screen.getAllByRole('row').find((r) => r.textContent?.includes('ROE, RICHARD'))!;
    expect(row.textContent).toContain('CR, XC');
    expect(within(row).getAllByRole('cell').map((c) => c.textContent)).toEqual(expect.arrayContaining(['2', '4']));
    expect(screen.getByText('1 photo attached to ROE, RICHARD (2024-02-01). Send the study to deliver it.').getAttribute('role')).toBe('status');
  });

  it('asks for the patient name and ID of a new study before anything is sent, then sends the details entered', async () => {
    const ivy = reviewStudy({ studyInstanceUid: '2.25.77', patientName: 'Featherstone^Ivy', patientId: 'P9', studyDate: '20260301', description: 'Referral form', modalities: ['XC'], seriesCount: 1, instanceCount: 2 });
    const { fake, user, panel } = await openReview(importReview({ photos: [FORM, WOUND] }), () => attachment({ studies: [ivy], counts: { found: 2, imported: 2, duplicates: 0, conflicts: 0, skipped: 0 } }));
    await user.selectOptions(within(panel).getByRole('combobox', { name: 'Attach to' }), 'A new study…');
    const fields = within(panel).getByRole('group', { name: 'New study' });
    await user.type(within(fields).getByRole('textbox', { name: 'Patient name' }), 'Featherstone');
    await user.click(within(panel).getByRole('button', { name: 'Attach photos' }));
    expect((await within(panel).findByRole('alert')).textContent).toBe('Enter the patient name and patient ID of the new study, as on the request form.');
    expect(fake.requestsTo('import:attach-photos')).toEqual([]);

    await user.type(within(fields).getByRole('textbox', { name: 'Patient name' }), ', Ivy ');
    await user.type(within(fields).getByRole('textbox', { name: 'Patient ID' }), 'P9');
    await user.type(within(fields).getByLabelText('Birth date (optional)'), '1980-04-01');
    await user.selectOptions(within(fields).getByRole('combobox', { name: 'Sex (optional)' }), 'Female');
    await user.type(within(fields).getByRole('textbox', { name: 'Description (optional)' }), 'Referral form');
    await user.click(within(panel).getByRole('button', { name: 'Attach photos' }));
    expect(fake.requestsTo('import:attach-photos')).toEqual([{
      photos: ['/scans/request-form.png', '/scans/wound.jpg'],
      target: { newStudy: { patientName: 'Featherstone, Ivy', patientId: 'P9', birthDate: '1980-04-01', sex: 'F', studyDescription: 'Referral form' } },
    }]);
    // Every photo attached: the panel goes, the new study is in the review, selected for sending.
    expect(await screen.findByText('2 photos attached to Featherstone, Ivy (2026-03-01). Send the study to deliver them.')).toBeTruthy();
    expect(screen.queryByRole('region', { name: /^Photos found/ })).toBeNull();
    expect((screen.getByRole('checkbox', { name: 'Send Featherstone, Ivy (2026-03-01)' }) as HTMLInputElement).checked).toBe(true);
    expect(screen.getByText('3 of 3 studies selected')).toBeTruthy();
  });

  it('shows why an attachment was refused, in words, and keeps the photos', async () => {
    const { user, panel } = await openReview(importReview({ photos: [WOUND] }), () => {
      throw new Refusal({ code: 'INVALID_REQUEST', message: 'The study to attach the photos to is no longer in the catalog. Import it again, then attach the photos.' });
    });
    await user.click(within(panel).getByRole('button', { name: 'Attach photos' }));
    const alert = await within(panel).findByRole('alert');
    expect(alert.textContent).toContain('The photos were not attached');
    expect(alert.textContent).toContain('no longer in the catalog');
    expect(alert.textContent).toContain('Error code: INVALID_REQUEST');
    expect(within(panel).getByRole('checkbox', { name: 'Attach /scans/wound.jpg' })).toBeTruthy();
    expect((within(panel).getByRole('button', { name: 'Attach photos' }) as HTMLButtonElement).disabled).toBe(false);
  });

  it('offers a new study at once when the import found photos but no study', async () => {
    const { panel } = await openReview(importReview({ studies: [], photos: [WOUND], problems: [] }), () => attachment());
    expect(screen.getByText('No DICOM studies were found. Attach the photos below to a new study to send them.')).toBeTruthy();
    expect((within(panel).getByRole('combobox', { name: 'Attach to' }) as HTMLSelectElement).value).toBe('new');
    // Every control has a name a screen reader says.
    const fields = within(panel).getByRole('group', { name: 'New study' });
    for (const name of ['Patient name', 'Patient ID', 'Description (optional)']) expect(within(fields).getByRole('textbox', { name })).toBeTruthy();
    expect(within(fields).getByLabelText('Birth date (optional)').getAttribute('type')).toBe('date');
    expect(within(fields).getByRole('combobox', { name: 'Sex (optional)' })).toBeTruthy();
  });

  it('is not there when the import found no photos', async () => {
    installFakeApi({ 'import:choose': () => ['/a'], 'import:paths': () => importReview() });
    const user = userEvent.setup();
    render(<ImportScreen onNavigate={vi.fn()} />);
    await user.click(screen.getByRole('button', { name: 'Choose folder…' }));
    await screen.findByRole('table');
    expect(screen.queryByRole('region', { name: /^Photos found/ })).toBeNull();
  });
});
