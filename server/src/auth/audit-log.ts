import type { RelayDatabase } from '../db/database.js';

/**
 * Who signed in, refreshed, signed out or changed an account, who uploaded which study from where,
 * and where it was delivered, with the outcome. Rows name staff accounts, addresses, upload ids and
 * Study Instance UIDs (the audit trail must say which study); never a password, a one-time code, a
 * token, or patient demographics. Only admins can read it.
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
  | 'delivery';

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

export interface AuditRow {
  id: number;
  at: string;
  actor_user_id: number | null;
  action: string;
  target: string | null;
  address: string | null;
  outcome: string;
}

export class AuditLog {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date = () => new Date()) {}

  record(entry: AuditEntry): void {
    this.db
      .prepare('INSERT INTO audit_log (at, actor_user_id, action, target, address, outcome) VALUES (?, ?, ?, ?, ?, ?)')
      .run(this.now().toISOString(), entry.actorUserId ?? null, entry.action, entry.target ?? null, entry.address ?? null, entry.outcome);
  }

  /** Rows in time order, optionally from a moment on, for the admin export. */
  since(from: string | undefined, limit = 100_000): AuditRow[] {
    return this.db.prepare('SELECT * FROM audit_log WHERE at >= ? ORDER BY id LIMIT ?').all(from ?? '', limit) as AuditRow[];
  }

  /** Newest first. */
  recent(limit = 100): AuditRow[] {
    return this.db.prepare('SELECT * FROM audit_log ORDER BY id DESC LIMIT ?').all(limit) as AuditRow[];
  }
}
