import { useEffect } from 'react';
import { SignInScreen } from '../features/sign-in/sign-in-screen';
import { connectLiveUpdates } from '../stores/live-updates';
import { useSessionStore } from '../stores/session-store';
import { useSettingsStore } from '../stores/settings-store';
import { useStatusStore } from '../stores/status-store';
import { AppShell } from './app-shell';
import type { ScreenId } from './screens';

/** Applies the theme setting; "system" leaves it to prefers-color-scheme in the stylesheet. */
function useTheme() {
  const theme = useSettingsStore((s) => s.view?.settings.theme ?? 'system');
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
}

/** Stops a file dropped outside the drop zone from replacing the page with the file. */
function usePreventStrayDrops() {
  useEffect(() => {
    const stop = (event: DragEvent) => {
      if (!event.defaultPrevented) event.preventDefault();
    };
    window.addEventListener('dragover', stop);
    window.addEventListener('drop', stop);
    return () => {
      window.removeEventListener('dragover', stop);
      window.removeEventListener('drop', stop);
    };
  }, []);
}

/** The sign-in gate: the core remembers the session, so a returning user goes straight in. */
export function App({ initialScreen }: { initialScreen?: ScreenId }) {
  const status = useSessionStore((s) => s.status);
  useTheme();
  usePreventStrayDrops();

  useEffect(() => connectLiveUpdates(), []);
  useEffect(() => {
    void useSessionStore.getState().load();
    void useStatusStore.getState().load();
    void useSettingsStore.getState().load();
  }, []);

  if (status === 'loading') {
    return (
      <main className="loading" aria-busy="true">
        <p role="status">Starting RelayPACS…</p>
      </main>
    );
  }
  if (status === 'signed-out') return <SignInScreen />;
  return <AppShell {...(initialScreen ? { initialScreen } : {})} />;
}
