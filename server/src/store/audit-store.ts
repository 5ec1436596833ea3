/**
 * The audit trail: who signed in, refreshed, signed out or changed an account, who uploaded which
 * study from where, and where it was delivered, with the outcome. Rows name staff accounts,
 * addresses, upload ids and Study Instance UIDs (the audit trail must say which study); never a
 * password, a one-time code, a token, or patient demographics. Only admins can read it.
 */
export type AuditAction =
  | 'login'
  | 'refresh'
  | 'logout'
  | 'user-add'
  | 'user-passwd'
  | 'user-disable'
  | 'user-enable'
  | 'user-totp-enrol'
  | 'user-totp-remove'
  | 'upload-start'
  | 'upload-complete'
  | 'upload-cancel'
  | 'upload-retry'
  | 'delivery'
  | 'signing-key-rotate'
  | 'report-read';

export interface AuditEntry {
  action: AuditAction;
  /** 'success', or why it failed: 'invalid-credentials', 'rate-limited', 'reused', ... */
  outcome: string;
  /** The account acting (for a failed login, the account the name belongs to, when it exists). */
  actorUserId?: number | null;
  /** The account acted on, by user name, for administration. */
  target?: string | null;
  /** Client address for HTTP; 'cli' for the command line. */
  address?: string | null;
}

/** One row as exported (GET /admin/audit); the column names are the export's. */
export interface AuditRow {
  id: number;
  at: string;
  actor_user_id: number | null;
  action: string;
  target: string | null;
  address: string | null;
  outcome: string;
}

export interface AuditStore {
  /** Appends a row stamped with the store's clock. */
  record(entry: AuditEntry): Promise<void>;
  /**
   * Appends the row unless one with the same action, target and outcome exists; true when written.
   * Check and write are one atomic step, so relays finishing the same delivery at once write one row.
   */
  recordOnce(entry: AuditEntry): Promise<boolean>;
  /** Rows in the order written, from a moment on (ISO-8601, inclusive), for the admin export. */
  since(from: string | undefined, limit?: number): Promise<AuditRow[]>;
  /** Newest first. */
  recent(limit?: number): Promise<AuditRow[]>;
}
