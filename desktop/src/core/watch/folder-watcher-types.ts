// The folder watcher's public shapes: the events it emits, the status it reports and the options it takes.
import type { HeaderResult } from '../dicom/header-reader.js';
import type { ErrorCode } from '../../common/error-codes.js';
import type { SettledFile, SettlingStudy } from './watch-ledger.js';

/** Every instance of one study that arrived since its last settle, once no new one came for studyQuietMs. */
export interface StudySettledEvent {
  /** The watched folder (its configured path, normalised). */
  folder: string;
  studyInstanceUid: string;
  /** Sorted by path. Only files not handed on by an earlier settle of the same study. */
  files: SettledFile[];
}

/** A file that will not be handed on as it is (not DICOM, never completed, unreadable); reported once per path, size and mtime. */
export interface FileSkippedEvent {
  folder: string;
  path: string;
  code: ErrorCode;
  reason: string;
}

export interface FolderUnavailableEvent {
  folder: string;
  /** Why, in words (no PHI: the watched folder's own path at most). */
  reason: string;
}

export interface FolderAvailableEvent {
  folder: string;
}

/** A reconcile walk finished. `found` counts files the notifications had missed: a steady non-zero suggests polling. */
export interface ReconciledEvent {
  folder: string;
  /** Files (not ignored) the walk saw. */
  files: number;
  found: number;
  /** Known files the walk no longer saw, now forgotten. */
  forgotten: number;
}

export interface FolderWatcherEvents {
  'study-settled': [StudySettledEvent];
  'file-skipped': [FileSkippedEvent];
  'folder-unavailable': [FolderUnavailableEvent];
  'folder-available': [FolderAvailableEvent];
  'reconciled': [ReconciledEvent];
}


export interface FolderWatcherStatus {
  folder: string;
  running: boolean;
  /** null until the first check after start(). */
  available: boolean | null;
  /** Epoch ms when a new or changed file was last noticed. */
  lastFileSeenAt: number | null;
  /** The path of that file (for "last file seen" displays; a path can name a patient, so never log it). */
  lastFileSeenPath: string | null;
  /** Epoch ms of the last completed reconcile walk. */
  lastReconcileAt: number | null;
  /** Files noticed but not yet read: still being written, or waiting for the rest of the file. */
  waitingForStability: number;
  settling: SettlingStudy[];
  /** Every file remembered (waiting, settling, handed on, skipped): what the watcher's memory grows with. */
  knownFiles: number;
}

export interface FolderWatcherOptions {
  /** Reads a header; the real reader by default. Tests wrap it to see when files are read. */
  readHeader?: (path: string) => Promise<HeaderResult>;
  /** How long a file whose header or image data is cut short may stay so before it is skipped. Default 10 minutes. */
  maxIncompleteWaitMs?: number;
  /** How long the folder may take to answer a check before it counts as gone (a dead SMB server hangs). Default 10 s. */
  folderCheckTimeoutMs?: number;
  /** Where unexpected internal failures are reported; messages carry no paths or UIDs. Default console.warn. */
  log?: (message: string) => void;
}
