/**
 * Catalog schema migrations, in order; released ones never change. Patient → study → series →
 * instance, plus conflicts (same SOP Instance UID, other bytes) and import runs with their skips;
 * the upload queue; the agent's settings; watched folders.
 */
export const CATALOG_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE patients (
    id INTEGER PRIMARY KEY,
    patient_id TEXT NOT NULL,
    name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    sex TEXT NOT NULL,
    -- Same ID and name is the same patient; the same ID with another name is kept apart, since
    -- IDs from different sites collide.
    UNIQUE (patient_id, name)
  );
  CREATE TABLE studies (
    id INTEGER PRIMARY KEY,
    study_instance_uid TEXT NOT NULL UNIQUE,
    patient_row_id INTEGER NOT NULL REFERENCES patients(id),
    study_date TEXT NOT NULL,
    study_time TEXT NOT NULL,
    description TEXT NOT NULL,
    accession_number TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE series (
    id INTEGER PRIMARY KEY,
    series_instance_uid TEXT NOT NULL UNIQUE,
    study_row_id INTEGER NOT NULL REFERENCES studies(id),
    modality TEXT NOT NULL,
    series_number INTEGER,
    description TEXT NOT NULL
  );
  CREATE TABLE import_runs (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    state TEXT NOT NULL,            -- running, finished, interrupted
    started_at TEXT NOT NULL,
    finished_at TEXT,
    found INTEGER NOT NULL DEFAULT 0,
    imported INTEGER NOT NULL DEFAULT 0,
    duplicates INTEGER NOT NULL DEFAULT 0,
    conflicts INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE instances (
    id INTEGER PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL UNIQUE,
    series_row_id INTEGER NOT NULL REFERENCES series(id),
    sop_class_uid TEXT NOT NULL,
    instance_number INTEGER,
    number_of_frames INTEGER,
    transfer_syntax_uid TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    display_name TEXT NOT NULL,
    import_run_id INTEGER REFERENCES import_runs(id),
    created_at TEXT NOT NULL
  );
  CREATE INDEX instances_by_series ON instances(series_row_id);
  CREATE TABLE instance_conflicts (
    id INTEGER PRIMARY KEY,
    sop_instance_uid TEXT NOT NULL,
    existing_instance_id INTEGER NOT NULL REFERENCES instances(id),
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    path TEXT NOT NULL,
    display_name TEXT NOT NULL,
    import_run_id INTEGER REFERENCES import_runs(id),
    detected_at TEXT NOT NULL,
    resolution TEXT,                -- null until the user chooses: keep-existing, use-new
    UNIQUE (sop_instance_uid, sha256)
  );
  CREATE TABLE import_skips (
    id INTEGER PRIMARY KEY,
    import_run_id INTEGER NOT NULL REFERENCES import_runs(id),
    display_name TEXT NOT NULL,
    code TEXT NOT NULL,
    reason TEXT NOT NULL
  );
  CREATE INDEX import_skips_by_run ON import_skips(import_run_id);
  `,
  // 2: upload jobs, one per study sent, with per-instance progress
  `
  CREATE TABLE upload_jobs (
    id INTEGER PRIMARY KEY,
    study_instance_uid TEXT NOT NULL,
    service_level TEXT NOT NULL,
    clinical_history TEXT,
    -- queued, uploading, completing, forwarding, delivered, confirmed, failed, paused, cancelled
    state TEXT NOT NULL,
    relay_upload_id TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    error_code TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    finished_at TEXT
  );
  CREATE INDEX upload_jobs_by_state ON upload_jobs(state);
  CREATE TABLE upload_job_instances (
    job_id INTEGER NOT NULL REFERENCES upload_jobs(id) ON DELETE CASCADE,
    sop_instance_uid TEXT NOT NULL,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    -- pending, sent, delivered, confirmed, rejected, failed, already-delivered
    state TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (job_id, sop_instance_uid)
  );
  `,
  // 3: the agent's settings (bandwidth cap, routine time windows), one row per key that was set
  `
  CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  `,
  // 4: watched folders of the desktop app, with the defaults their studies are sent with; series by
  // study for the queue and history screens' per-study sizes
  `
  CREATE TABLE watched_folders (
    path TEXT PRIMARY KEY,
    service_level TEXT NOT NULL,
    routing_tag TEXT,
    after_delivery TEXT NOT NULL,  -- keep, move, delete
    done_folder TEXT,
    use_polling INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX series_by_study ON series(study_row_id);
  `,
  // 5: the routing tag a job is sent with (a watched folder's default), as the relay's study.facility
  `
  ALTER TABLE upload_jobs ADD COLUMN routing_tag TEXT;
  `,
  // 6: instances that were bare data sets, sent in the Part 10 file made for them ("DICOM file header added")
  `
  ALTER TABLE instances ADD COLUMN file_meta_added INTEGER NOT NULL DEFAULT 0;
  `,
  // 7: the reports the relay found in the PACS for this workstation's studies (core/reports):
  // ids, status and kind, as the history shows them; the content stays at the relay
  `
  CREATE TABLE study_reports (
    relay_url TEXT NOT NULL,
    username TEXT NOT NULL,        -- whose reports: the follower's cursor is per relay and account
    report_id INTEGER NOT NULL,
    relay_upload_id TEXT NOT NULL,
    study_instance_uid TEXT NOT NULL,
    status TEXT NOT NULL,  -- preliminary, final, amended
    kind TEXT NOT NULL,    -- sr, pdf, cda, hl7
    title TEXT,
    detected_at TEXT NOT NULL,
    content_available INTEGER NOT NULL,
    PRIMARY KEY (relay_url, report_id)
  );
  CREATE INDEX study_reports_by_upload ON study_reports(relay_upload_id);
  `,
];
