/**
 * Schema migrations, applied in order; a migration never changes once released; add a new one.
 * Times are ISO-8601 UTC text; sizes and offsets are 64-bit integers (instances may exceed 4 GB).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: users, refresh-token families (sessions), audit
  `
  CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE COLLATE NOCASE,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    totp_secret TEXT,
    totp_last_step INTEGER,
    created_at TEXT NOT NULL
  );
  CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    revoked_reason TEXT
  );
  CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT
  );
  CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor_user_id INTEGER,
    action TEXT NOT NULL,
    target TEXT,
    address TEXT,
    outcome TEXT NOT NULL
  );
  `,
  // 2: uploads, their instances and the chunks received
  `
  CREATE TABLE uploads (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    study_instance_uid TEXT NOT NULL,
    modality TEXT,
    service_level TEXT NOT NULL,
    clinical_history TEXT,
    source_workstation TEXT,
    manifest_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    chunk_bytes INTEGER NOT NULL,
    total_bytes INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    completed_at TEXT
  );
  CREATE INDEX uploads_by_user_state ON uploads(user_id, state);
  CREATE INDEX uploads_by_resume_key ON uploads(user_id, study_instance_uid, manifest_hash, state);
  CREATE TABLE upload_instances (
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    sop_instance_uid TEXT NOT NULL,
    sop_class_uid TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_bytes INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL,
    transfer_syntax_uid TEXT,
    rejection_code TEXT,
    rejection_reason TEXT,
    delivery_state TEXT NOT NULL DEFAULT 'pending',
    PRIMARY KEY (upload_id, idx),
    UNIQUE (upload_id, sop_instance_uid)
  );
  CREATE TABLE upload_chunks (
    upload_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    length INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (upload_id, idx, offset),
    FOREIGN KEY (upload_id, idx) REFERENCES upload_instances(upload_id, idx) ON DELETE CASCADE
  );
  -- Instances a PACS confirmed earlier: a new upload need not send them again.
  CREATE TABLE delivered_instances (
    sop_instance_uid TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    delivered_at TEXT NOT NULL,
    PRIMARY KEY (sop_instance_uid, sha256)
  );
  `,
  // 3: deliveries (one per upload and destination) and their items (one per instance)
  `
  CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    destination TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (upload_id, destination)
  );
  CREATE TABLE delivery_items (
    delivery_id INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT,
    failure_code TEXT,
    warning TEXT,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (delivery_id, idx)
  );
  CREATE INDEX delivery_items_due ON delivery_items(state, next_attempt_at);
  `,
  // 4: the facility a study comes from (routing may match on it)
  `
  ALTER TABLE uploads ADD COLUMN facility TEXT;
  `,
  // 5: the delivery audit checks for an identical row before writing one
  `
  CREATE INDEX audit_log_by_action_target ON audit_log(action, target);
  `,
  // 6: a spent refresh token names its successor, so an answer lost in transit can be replayed once (refresh-token-store.ts)
  `
  ALTER TABLE refresh_tokens ADD COLUMN replaced_by TEXT;
  `,
  // 7: login attempts the rate limiter counts and the JWT signing key, shared by relays sharing the database
  `
  CREATE TABLE login_attempts (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    at_ms INTEGER NOT NULL
  );
  CREATE INDEX login_attempts_by_key ON login_attempts(scope, key);
  CREATE INDEX login_attempts_by_time ON login_attempts(scope, at_ms);
  CREATE TABLE signing_keys (
    purpose TEXT PRIMARY KEY,
    jwk TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  // 8: a chunk carries the instance's SHA-256 state after it (bytes 0 to its end), when its
  // predecessor's was known as it arrived, so verification reads no byte again (resumable-sha256.ts)
  `
  ALTER TABLE upload_chunks ADD COLUMN sha256_state BLOB;
  `,
  // 9: delivery failure codes take their one spelling (protocol/delivery-failure-codes.ts): "HTTP 400" is
  // HTTP_400, a bare DICOM status "A700" is DICOM_A700, "FilteredOut" is FILTERED_OUT; the codes of the
  // relay's check before sending (INSTANCE_REJECTION_CODES) stay; anything else left outside the table
  // is REFUSED (its reason, kept beside it, still says what the PACS answered).
  `
  UPDATE delivery_items SET failure_code = 'HTTP_' || substr(failure_code, 6) WHERE failure_code GLOB 'HTTP [0-9][0-9][0-9]';
  UPDATE delivery_items SET failure_code = 'DICOM_' || upper(failure_code) WHERE failure_code GLOB '[0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f][0-9A-Fa-f]';
  UPDATE delivery_items SET failure_code = 'FILTERED_OUT' WHERE failure_code = 'FilteredOut';
  UPDATE delivery_items SET failure_code = 'REFUSED'
    WHERE failure_code IS NOT NULL
      AND failure_code NOT IN ('REFUSED', 'FILTERED_OUT', 'ATTEMPTS_EXHAUSTED', 'TRANSIENT',
        'NOT_PART10', 'BAD_META_HEADER', 'MALFORMED', 'TRUNCATED', 'HEADER_TOO_LARGE', 'MISSING_IDENTITY', 'STUDY_UID_MISMATCH',
        'SOP_INSTANCE_UID_MISMATCH', 'SOP_CLASS_MISMATCH', 'SOP_CLASS_NOT_ALLOWED', 'CHECKSUM_MISMATCH')
      AND failure_code NOT GLOB 'HTTP_[1-5][0-9][0-9]'
      AND failure_code NOT GLOB 'DICOM_[0-9A-F][0-9A-F][0-9A-F][0-9A-F]';
  `,
  // 10: upload_instances.delivery_state was never written (status derives an instance's delivery from
  // its delivery items): dropped (ALTER TABLE DROP COLUMN, SQLite 3.35+;
  // better-sqlite3 13.2 bundles 3.54).
  `
  ALTER TABLE upload_instances DROP COLUMN delivery_state;
  `,
  // 11: an item being sent is leased to the relay that claimed it (owner, lease_until), renewed while
  // it sends: relays sharing one database each requeue only their own items at start, and any relay
  // requeues an item whose lease lapsed (its relay died). Items 'sending' from before have no lease:
  // lapsed, so they are sent again (PACS store by SOP Instance UID).
  `
  ALTER TABLE delivery_items ADD COLUMN owner TEXT;
  ALTER TABLE delivery_items ADD COLUMN lease_until TEXT;
  CREATE INDEX delivery_items_sending ON delivery_items (state, lease_until);
  `,
  // 12: jobs that run on one relay at a time among relays sharing the database (job-leases-store.ts)
  `
  CREATE TABLE job_leases (
    job TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    lease_until TEXT NOT NULL
  );
  `,
  // 13: upload events kept for Last-Event-ID replay and for the relays sharing the database
  // (events-store.ts); bounded by pruning. AUTOINCREMENT: ids are never reused after a prune.
  `
  CREATE TABLE relay_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner_user_id INTEGER NOT NULL,
    body TEXT NOT NULL,
    at TEXT NOT NULL
  );
  CREATE INDEX relay_events_owner ON relay_events (owner_user_id, id);
  `,
  // 14: JWT signing keys as a ring (auth/signing-keys.ts): the newest not retired signs, retired
  // ones verify until verify_until, so a rotation signs nobody out. The one key kept so far is its first.
  `
  CREATE TABLE jwt_signing_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    retired_at TEXT,
    verify_until TEXT
  );
  INSERT INTO jwt_signing_keys (jwk, created_at) SELECT jwk, created_at FROM signing_keys WHERE purpose = 'jwt';
  DROP TABLE signing_keys;
  `,
  // 15: reports found in the PACS for delivered studies (store/reports-store.ts, reports/)
  `
  CREATE TABLE report_watches (
    upload_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at TEXT NOT NULL,
    next_check_at TEXT NOT NULL,
    interval_seconds REAL NOT NULL,
    until TEXT NOT NULL,
    known_instances INTEGER,
    PRIMARY KEY (upload_id, destination)
  );
  CREATE INDEX report_watches_due ON report_watches (destination, state, next_check_at);
  CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    upload_id TEXT NOT NULL,
    destination TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    study_instance_uid TEXT NOT NULL,
    series_instance_uid TEXT,
    sop_instance_uid TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT,
    source TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    content BLOB,
    UNIQUE (upload_id, destination, sop_instance_uid)
  );
  CREATE INDEX reports_by_user ON reports (user_id, detected_at);
  CREATE TABLE report_non_reports (
    destination TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL,
    sop_instance_uid TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (destination, sop_instance_uid)
  );
  CREATE INDEX report_non_reports_study ON report_non_reports (destination, study_instance_uid);
  CREATE TABLE report_cursors (
    destination TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL,
    updated_at TEXT NOT NULL
  );
  `,
  // 16: the study's accession number, from its first verified instance (HL7 reports name studies by it)
  `
  ALTER TABLE uploads ADD COLUMN accession_number TEXT;
  CREATE INDEX uploads_by_accession ON uploads (accession_number) WHERE accession_number IS NOT NULL;
  `,
];
