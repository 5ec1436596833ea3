import { useEffect, useRef, useState } from 'react';
import { ErrorAlert } from '../components/error-alert';
import { HistoryScreen } from '../features/history/history-screen';
import { ImportScreen } from '../features/import/import-screen';
import { QueueScreen } from '../features/queue/queue-screen';
import { SettingsScreen } from '../features/settings/settings-screen';
import { WatchScreen } from '../features/watch/watch-screen';
import { useSessionStore } from '../stores/session-store';
import { SCREENS, type ScreenId } from './screens';
import { StatusBar } from './status-bar';

/** The signed-in window: header with status and user, main navigation, one screen at a time. */
export function AppShell({ initialScreen = 'import' }: { initialScreen?: ScreenId }) {
  const [screen, setScreen] = useState<ScreenId>(initialScreen);
  const mainRef = useRef<HTMLElement>(null);
  const navigated = useRef(false);
  const session = useSessionStore((s) => s.session);
  const busy = useSessionStore((s) => s.busy);
  const error = useSessionStore((s) => s.error);
  const signOut = useSessionStore((s) => s.signOut);

  // After choosing a screen, move focus to its heading so keyboard and screen-reader users land there.
  useEffect(() => {
    if (!navigated.current) return;
    mainRef.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [screen]);

  const navigate = (next: ScreenId) => {
    navigated.current = true;
    setScreen(next);
  };

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <p className="brand">RelayPACS</p>
        <StatusBar />
        <div className="user">
          {session ? (
            <span className="user-name">
              Signed in as <strong>{session.username}</strong>
            </span>
          ) : null}
          <button type="button" onClick={() => void signOut()} disabled={busy}>
            Sign out
          </button>
        </div>
      </header>
      <nav className="app-nav" aria-label="Main">
        <ul>
          {SCREENS.map(({ id, label }) => (
            <li key={id}>
              <button type="button" className="nav-button" aria-current={screen === id ? 'page' : undefined} onClick={() => navigate(id)}>
                {label}
              </button>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="app-main" ref={mainRef} tabIndex={-1}>
        {error ? <ErrorAlert error={error} title="Could not sign out" /> : null}
        {screen === 'import' ? <ImportScreen onNavigate={navigate} /> : null}
        {screen === 'queue' ? <QueueScreen /> : null}
        {screen === 'watch' ? <WatchScreen /> : null}
        {screen === 'history' ? <HistoryScreen /> : null}
        {screen === 'settings' ? <SettingsScreen /> : null}
      </main>
    </div>
  );
}
