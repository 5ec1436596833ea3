import type {
  HistoryItem,
  ImportReview,
  QueueItem,
  ReviewStudy,
  SessionInfo,
  Settings,
  SettingsView,
  StatusSummary,
  WatchedFolderStatus,
} from '../../../src/common/ipc-contract';
import type { FakeHandlers } from './fake-api';

export const SESSION: SessionInfo = { relayUrl: 'https://relay.example.test', username: 'rad1', role: 'uploader' };

export const STATUS: StatusSummary = { online: true, signedIn: true, activity: 'idle', queued: 0, sending: 0, failed: 0 };

export function reviewStudy(overrides: Partial<ReviewStudy> = {}): ReviewStudy {
  return {
    studyInstanceUid: '1.2.826.0.1.3680043.10.1',
    patientName: 'DOE^JANE',
    patientId: 'P001',
    studyDate: '20240131',
    description: 'CT CHEST',
    modalities: ['CT'],
    seriesCount: 2,
    instanceCount: 120,
    totalBytes: 62_914_560,
    conflicts: 0,
    fileHeaderAdded: 0,
    ...overrides,
  };
}

export function importReview(overrides: Partial<ImportReview> = {}): ImportReview {
  return {
    runId: 1,
    counts: { found: 241, imported: 240, duplicates: 0, conflicts: 0, skipped: 1 },
    studies: [
      reviewStudy(),
      reviewStudy({ studyInstanceUid: '1.2.826.0.1.3680043.10.2', patientName: 'ROE^RICHARD', patientId: 'P002', studyDate: '20240201', description: 'XR HAND', modalities: ['CR'], seriesCount: 1, instanceCount: 3, totalBytes: 9_000_000, conflicts: 2 }),
    ],
    problems: [{ displayName: 'DICOMDIR/README.TXT', code: 'FILE_NOT_DICOM', reason: 'This file is not a DICOM image. Check that you picked the export folder, not a viewer or report.' }],
    photos: [],
    ...overrides,
  };
}

export function queueItem(overrides: Partial<QueueItem> = {}): QueueItem {
  return {
    jobId: 1,
    studyInstanceUid: '1.2.826.0.1.3680043.10.1',
    patientName: 'DOE^JANE',
    description: 'CT CHEST',
    serviceLevel: 'ROUTINE',
    state: 'uploading',
    bytesSent: 25_000_000,
    totalBytes: 100_000_000,
    bytesPerSecond: 2_500_000,
    etaSeconds: 30,
    instanceCount: 120,
    createdAt: '2024-01-31T10:00:00.000Z',
    updatedAt: '2024-01-31T10:01:00.000Z',
    ...overrides,
  };
}

export function watchedFolder(overrides: Partial<WatchedFolderStatus> = {}): WatchedFolderStatus {
  return {
    path: '/data/modality-export',
    serviceLevel: 'ROUTINE',
    afterDelivery: 'keep',
    usePolling: false,
    state: 'watching',
    studiesSettling: 0,
    ...overrides,
  };
}

export function historyItem(overrides: Partial<HistoryItem> = {}): HistoryItem {
  return {
    jobId: 10,
    studyInstanceUid: '1.2.826.0.1.3680043.10.1',
    patientName: 'DOE^JANE',
    patientId: 'P001',
    studyDate: '20240131',
    description: 'CT CHEST',
    serviceLevel: 'STAT',
    state: 'confirmed',
    instanceCount: 120,
    totalBytes: 62_914_560,
    finishedAt: '2024-01-31T10:05:00.000Z',
    ...overrides,
  };
}

export const SETTINGS: Settings = {
  relayUrl: 'https://relay.example.test',
  maxBytesPerSecond: 0,
  routineWindows: ['19:00-07:00'],
  notifications: { statDelivered: true, failures: true, reports: true },
  updates: { enabled: true, channel: 'stable' },
  startAtLogin: false,
  theme: 'system',
};

export function settingsView(overrides: Partial<SettingsView> = {}): SettingsView {
  return { settings: structuredClone(SETTINGS), locked: {}, ...overrides };
}

/** A main process with a signed-in user and nothing going on. */
export function signedInHandlers(): FakeHandlers {
  return {
    'session:get': () => SESSION,
    'session:sign-out': () => undefined,
    'status:get': () => STATUS,
    'settings:get': () => settingsView(),
    'queue:list': () => [],
    'watch:list': () => [],
    'history:list': () => [],
  };
}
