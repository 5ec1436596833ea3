import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ErrorAlert } from '../../components/error-alert';
import { LockNote } from '../../components/lock-note';
import { asksForTotp, useSessionStore } from '../../stores/session-store';
import { useSettingsStore } from '../../stores/settings-store';
import { FormProblem, InfoNotice } from '../../components/notices';

/** Why the form cannot be sent yet, in words; null when it can. */
export function signInProblem(relayUrl: string, username: string, password: string, totp: string | null): string | null {
  if (!relayUrl.trim() || !username.trim() || !password) return 'Enter the relay address, your user name and your password.';
  if (!/^https?:\/\/[^\s/]+/i.test(relayUrl.trim())) return 'The relay address starts with https:// (for example https://relay.hospital.example).';
  if (totp !== null && totp.replace(/\s/g, '') !== '' && !/^\d{6}$/.test(totp.replace(/\s/g, ''))) {
    return 'The authenticator code is the 6 digits shown in your authenticator app.';
  }
  return null;
}

/** Sign-in: relay, user, password, and a one-time code when the account has one. */
export function SignInScreen() {
  const { busy, error, notice, totpRequested, signIn, requestTotp } = useSessionStore();
  const settingsView = useSettingsStore((s) => s.view);
  const relayLocked = settingsView?.locked.relayUrl === true;
  const [relayUrl, setRelayUrl] = useState('');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [totp, setTotp] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const totpRef = useRef<HTMLInputElement>(null);
  const totpWanted = error !== null && asksForTotp(error);

  // The relay address the core already knows (or IT set) fills the field once it arrives.
  const knownRelay = settingsView?.settings.relayUrl ?? '';
  useEffect(() => {
    if (knownRelay) setRelayUrl((current) => (current && !relayLocked ? current : knownRelay));
  }, [knownRelay, relayLocked]);

  // When the relay asks for a code, put the cursor where it goes.
  useEffect(() => {
    if (totpWanted) totpRef.current?.focus();
  }, [totpWanted, error]);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = signInProblem(relayUrl, username, password, totpRequested ? totp : null);
    setProblem(found);
    if (found) return;
    const code = totp.replace(/\s/g, '');
    const ok = await signIn({ relayUrl: relayUrl.trim(), username: username.trim(), password, ...(totpRequested && code ? { totp: code } : {}) });
    if (ok) return;
    // A refused password is cleared; when only the code was missing, the password was right and stays.
    const refusal = useSessionStore.getState().error;
    if (!refusal || !asksForTotp(refusal)) setPassword('');
    setTotp('');
  };

  return (
    <main className="sign-in" id="main">
      <div className="sign-in-card">
        <p className="brand">RelayPACS</p>
        <h1>Sign in</h1>
        <InfoNotice text={notice} />
        <form onSubmit={(e) => void submit(e)} noValidate aria-describedby={problem ? 'sign-in-problem' : undefined}>
          <div className="field">
            <label htmlFor="sign-in-relay">Relay address</label>
            <input
              id="sign-in-relay"
              type="url"
              inputMode="url"
              autoComplete="url"
              placeholder="https://relay.hospital.example"
              value={relayUrl}
              readOnly={relayLocked}
              aria-describedby={relayLocked ? 'sign-in-relay-locked' : undefined}
              onChange={(e) => setRelayUrl(e.target.value)}
            />
            {relayLocked ? <LockNote id="sign-in-relay-locked" /> : null}
          </div>
          <div className="field">
            <label htmlFor="sign-in-user">User name</label>
            <input id="sign-in-user" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="sign-in-password">Password</label>
            <input id="sign-in-password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
          </div>
          {totpRequested ? (
            <div className="field">
              <label htmlFor="sign-in-totp">Authenticator code</label>
              <input
                id="sign-in-totp"
                ref={totpRef}
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={7}
                value={totp}
                aria-describedby="sign-in-totp-hint"
                onChange={(e) => setTotp(e.target.value)}
              />
              <p className="hint" id="sign-in-totp-hint">
                The 6-digit code your authenticator app shows for RelayPACS.
              </p>
            </div>
          ) : (
            <button type="button" className="link-button" aria-expanded="false" onClick={requestTotp}>
              I have an authenticator code
            </button>
          )}
          <FormProblem problem={problem} id="sign-in-problem" />
          {error && !problem ? (
            <ErrorAlert
              error={error}
              {...(totpWanted && !/authenticator/i.test(error.message) ? { title: 'Your account needs the code from your authenticator app. Enter it and sign in again.' } : {})}
            />
          ) : null}
          <div className="actions">
            <button type="submit" className="primary" disabled={busy} aria-busy={busy}>
              Sign in
            </button>
            {busy ? <span role="status">Signing in…</span> : null}
          </div>
        </form>
      </div>
    </main>
  );
}
