import { create } from 'zustand';
import type { SessionInfo, SignInRequest } from '../../common/ipc-contract';
import { invoke, toApiError, type ApiError } from '../lib/api-client';

export type SessionStatus = 'loading' | 'signed-out' | 'signed-in';

export interface SessionState {
  status: SessionStatus;
  session: SessionInfo | null;
  /** The last refusal of sign-in, sign-out or the session check. */
  error: ApiError | null;
  /** The relay asked for a one-time code (or the user chose to give one): the field is shown. */
  totpRequested: boolean;
  busy: boolean;
  /** Why the user is back at sign-in when they did not sign out (the session ended). */
  notice: string | null;
  load(): Promise<void>;
  signIn(request: SignInRequest): Promise<boolean>;
  signOut(): Promise<void>;
  requestTotp(): void;
  /** Called when any call answers SESSION_EXPIRED. */
  expire(error: ApiError): void;
}

/**
 * The relay answers AUTH_TOTP_REQUIRED when the account has a one-time code enrolled and none was
 * sent; the core passes that on as SIGN_IN_FAILED with the relay's code in `detail`.
 */
export function asksForTotp(error: ApiError): boolean {
  return /totp/i.test(`${error.detail ?? ''} ${error.message}`);
}

export const sessionInitialState = {
  status: 'loading' as SessionStatus,
  session: null,
  error: null,
  totpRequested: false,
  busy: false,
  notice: null,
} satisfies Partial<SessionState>;

/** Sign-in state. The core remembers the session (keychain); the renderer only asks. */
export const useSessionStore = create<SessionState>()((set, get) => ({
  ...sessionInitialState,

  async load() {
    set({ status: 'loading', error: null });
    try {
      const session = await invoke('session:get');
      set({ status: session ? 'signed-in' : 'signed-out', session });
    } catch (error) {
      set({ status: 'signed-out', session: null, error: toApiError(error) });
    }
  },

  async signIn(request) {
    set({ busy: true, error: null, notice: null });
    try {
      const session = await invoke('session:sign-in', request);
      set({ status: 'signed-in', session, busy: false, totpRequested: false });
      return true;
    } catch (caught) {
      const error = toApiError(caught);
      set({ busy: false, error, totpRequested: get().totpRequested || asksForTotp(error) });
      return false;
    }
  },

  async signOut() {
    set({ busy: true, error: null });
    try {
      await invoke('session:sign-out');
      set({ ...sessionInitialState, status: 'signed-out' });
    } catch (error) {
      set({ busy: false, error: toApiError(error) });
    }
  },

  requestTotp() {
    set({ totpRequested: true });
  },

  expire(error) {
    if (get().status !== 'signed-in') return;
    set({ ...sessionInitialState, status: 'signed-out', notice: error.message });
  },
}));
