-- handoff schema, version 1 (SQLite).
-- Times are INTEGER microseconds since the Unix epoch (UTC): compact, and
-- they compare correctly in SQL. Ids of entities are UUID v7 text.

CREATE TABLE users (
    id           TEXT PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email        TEXT,
    role         TEXT NOT NULL CHECK (role IN ('rep', 'manager', 'admin')),
    manager      TEXT REFERENCES users (username),
    created_at   INTEGER NOT NULL
);

CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,
    domain     TEXT NOT NULL UNIQUE,  -- registrable domain, lower case
    name       TEXT NOT NULL,
    industry      TEXT,
    employees     INTEGER,
    revenue       INTEGER,
    technologies  TEXT,  -- JSON array
    tags          TEXT NOT NULL DEFAULT '[]',  -- JSON array, e.g. ["strategic"]
    field_sources TEXT NOT NULL DEFAULT '[]',  -- per field: the import, file and row it came from (see handoff_store::provenance)
    icp_score  INTEGER,
    icp_tier   TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE imports (
    id          TEXT PRIMARY KEY,
    file_name   TEXT NOT NULL,
    format      TEXT NOT NULL,
    content_sha256 TEXT,  -- the file's bytes: a repeat import is recognised
    created_by  TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    rows_total  INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    merged      INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX imports_content ON imports (content_sha256) WHERE content_sha256 IS NOT NULL;

CREATE TABLE contacts (
    id                  TEXT PRIMARY KEY,
    email               TEXT NOT NULL UNIQUE,  -- normalised
    first_name          TEXT NOT NULL DEFAULT '',
    last_name           TEXT NOT NULL DEFAULT '',
    title               TEXT NOT NULL DEFAULT '',
    seniority           TEXT,
    department          TEXT,
    phone               TEXT,
    linkedin_url        TEXT,
    city                TEXT,
    country             TEXT,
    company             TEXT,
    account_id          TEXT REFERENCES accounts (id),
    owner               TEXT REFERENCES users (username),
    field_sources       TEXT NOT NULL DEFAULT '[]',
    verification_status TEXT,
    verification_reason TEXT,
    verified_at         INTEGER,
    icp_score           INTEGER,
    icp_tier            TEXT,
    icp_reasons         TEXT,
    -- who drives this prospect: AI automation or a human who took over
    handled_by          TEXT NOT NULL DEFAULT 'ai' CHECK (handled_by IN ('ai', 'human')),
    stopped_reason      TEXT,  -- reply, unsubscribe, hard_bounce, complaint, suppression
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX contacts_account ON contacts (account_id);

CREATE TABLE sequences (
    name          TEXT PRIMARY KEY,
    sequence_type TEXT NOT NULL,
    definition    TEXT NOT NULL,  -- the playbook's steps as JSON
    step_count    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE enrollments (
    id           TEXT PRIMARY KEY,
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    sequence     TEXT NOT NULL REFERENCES sequences (name),
    state        TEXT NOT NULL CHECK (state IN ('active', 'paused', 'finished', 'stopped')),
    stop_reason  TEXT,
    current_step INTEGER NOT NULL DEFAULT 0,
    next_step_at INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    UNIQUE (contact_id, sequence)
);

CREATE TABLE drafts (
    id              TEXT PRIMARY KEY,
    enrollment_id   TEXT REFERENCES enrollments (id),
    contact_id      TEXT NOT NULL REFERENCES contacts (id),
    step_index      INTEGER NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('ai', 'template', 'human')),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    grounding       TEXT NOT NULL DEFAULT '[]',
    sequence_type   TEXT,  -- the sequence's type when the draft was written; graduation is per type
    findings        TEXT NOT NULL DEFAULT '[]',  -- the last evaluation's findings (JSON array)
    verdict         TEXT,  -- the last evaluation's verdict: auto_send, needs_approval, veto_window, manual, blocked, escalate
    evaluation      TEXT,  -- the last evaluation, as JSON (every one is in the ledger)
    evaluation_context TEXT,  -- the facts it was made on (contact, account, sequence), as JSON, for replays
    evaluated_under TEXT,  -- the policy version of the last evaluation
    evaluated_at    INTEGER,
    confidence      REAL,
    review_state    TEXT NOT NULL,
    review_deadline INTEGER,
    reviewed_by     TEXT REFERENCES users (username),
    reviewed_at     INTEGER,
    final_subject   TEXT,  -- the text sent: the reviewer's edit, or the draft's own
    final_body      TEXT,
    edit_distance   REAL,  -- normalised, from the draft's text to the final text
    sent_at         INTEGER,
    policy_version  TEXT NOT NULL,  -- the policy the draft was written under
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- Replays list drafts by time; graduation reads the sent ones.
CREATE INDEX drafts_created ON drafts (created_at);
CREATE INDEX drafts_sent ON drafts (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE messages (
    id           TEXT PRIMARY KEY,
    draft_id     TEXT NOT NULL REFERENCES drafts (id),
    contact_id   TEXT NOT NULL REFERENCES contacts (id),
    mailbox      TEXT NOT NULL,
    rfc_message_id TEXT NOT NULL UNIQUE,  -- stored before the SMTP conversation
    in_reply_to  TEXT,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'in_doubt')),
    failure      TEXT,
    scheduled_at INTEGER NOT NULL,
    lease_until  INTEGER,
    sent_at      INTEGER,
    created_at   INTEGER NOT NULL
);

CREATE TABLE events (
    id                TEXT PRIMARY KEY,
    provider          TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    kind              TEXT NOT NULL,
    contact_id        TEXT REFERENCES contacts (id),
    rfc_message_id    TEXT,
    occurred_at       INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    payload           TEXT NOT NULL,  -- raw, as received
    UNIQUE (provider, provider_event_id)
);

-- Intent signals are read per contact.
CREATE INDEX events_contact ON events (contact_id) WHERE contact_id IS NOT NULL;
-- Events are listed by the time they were received.
CREATE INDEX events_received ON events (received_at);

CREATE TABLE escalations (
    id          TEXT PRIMARY KEY,
    contact_id  TEXT REFERENCES contacts (id),
    stage       TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    priority    TEXT NOT NULL,
    assignee    TEXT REFERENCES users (username),
    due_at      INTEGER,
    state       TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    resolution  TEXT,
    context     TEXT NOT NULL DEFAULT '{}',  -- e.g. the sequence a list-building approval is for
    created_at  INTEGER NOT NULL,
    resolved_at INTEGER
);
-- Approvals and the inbox look escalations up by contact and by state.
CREATE INDEX escalations_contact ON escalations (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX escalations_open ON escalations (stage, state);

-- Survives erasure: only a hash of the normalised address is kept.
CREATE TABLE suppressions (
    email_hash TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE ledger (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             INTEGER NOT NULL,
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('ai', 'human', 'system')),
    actor_name     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    contact_id     TEXT,
    account_id     TEXT,
    user_id        TEXT,
    job_id         INTEGER,
    policy_version TEXT,
    payload        TEXT NOT NULL
);
CREATE INDEX ledger_contact ON ledger (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX ledger_kind ON ledger (kind);

-- The ledger is append-only, whatever code or person touches the file.
CREATE TRIGGER ledger_no_update BEFORE UPDATE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;
CREATE TRIGGER ledger_no_delete BEFORE DELETE ON ledger
BEGIN
    SELECT RAISE(ABORT, 'the ledger is append-only');
END;

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at       INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by    TEXT,
    lease_token  TEXT,
    locked_until INTEGER,
    last_error   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- Claims scan due work only.
CREATE INDEX jobs_due ON jobs (state, run_at) WHERE state IN ('queued', 'running');
