export type ScreenId = 'import' | 'queue' | 'watch' | 'history' | 'settings';

/** The main navigation, in order. The labels are the buttons' accessible names. */
export const SCREENS: readonly { id: ScreenId; label: string }[] = [
  { id: 'import', label: 'Import' },
  { id: 'queue', label: 'Queue' },
  { id: 'watch', label: 'Watched folders' },
  { id: 'history', label: 'History' },
  { id: 'settings', label: 'Settings' },
];
