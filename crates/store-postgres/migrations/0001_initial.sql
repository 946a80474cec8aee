-- handoff schema, version 1 (PostgreSQL).
-- Times are TIMESTAMPTZ; ids of entities are UUID v7; payloads are JSONB.

CREATE TABLE users (
    id           UUID PRIMARY KEY,
    username     TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email        TEXT,
    role         TEXT NOT NULL CHECK (role IN ('rep', 'manager', 'admin')),
    manager      TEXT REFERENCES users (username),
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE accounts (
    id         UUID PRIMARY KEY,
    domain     TEXT NOT NULL UNIQUE,  -- registrable domain, lower case
    name       TEXT NOT NULL,
    industry      TEXT,
    employees     BIGINT,
    revenue       BIGINT,
    technologies  JSONB,
    tags          JSONB NOT NULL DEFAULT '[]',  -- e.g. ["strategic"]
    field_sources JSONB NOT NULL DEFAULT '[]',  -- per field: the import, file and row it came from (see handoff_store::provenance)
    icp_score  INTEGER,
    icp_tier   TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE imports (
    id          UUID PRIMARY KEY,
    file_name   TEXT NOT NULL,
    format      TEXT NOT NULL,
    content_sha256 TEXT,  -- the file's bytes: a repeat import is recognised
    created_by  TEXT NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    rows_total  INTEGER NOT NULL DEFAULT 0,
    imported    INTEGER NOT NULL DEFAULT 0,
    merged      INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX imports_content ON imports (content_sha256) WHERE content_sha256 IS NOT NULL;

CREATE TABLE contacts (
    id                  UUID PRIMARY KEY,
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
    account_id          UUID REFERENCES accounts (id),
    owner               TEXT REFERENCES users (username),
    field_sources       JSONB NOT NULL DEFAULT '[]',
    verification_status TEXT,
    verification_reason TEXT,
    verified_at         TIMESTAMPTZ,
    icp_score           INTEGER,
    icp_tier            TEXT,
    icp_reasons         JSONB,
    -- who drives this prospect: AI automation or a human who took over
    handled_by          TEXT NOT NULL DEFAULT 'ai' CHECK (handled_by IN ('ai', 'human')),
    stopped_reason      TEXT,  -- reply, unsubscribe, hard_bounce, complaint, suppression
    created_at          TIMESTAMPTZ NOT NULL,
    updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX contacts_account ON contacts (account_id);

CREATE TABLE sequences (
    name          TEXT PRIMARY KEY,
    sequence_type TEXT NOT NULL,
    definition    JSONB NOT NULL,  -- the playbook's steps as JSON
    step_count    INTEGER NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE enrollments (
    id           UUID PRIMARY KEY,
    contact_id   UUID NOT NULL REFERENCES contacts (id),
    sequence     TEXT NOT NULL REFERENCES sequences (name),
    state        TEXT NOT NULL CHECK (state IN ('active', 'paused', 'finished', 'stopped')),
    stop_reason  TEXT,
    current_step INTEGER NOT NULL DEFAULT 0,
    next_step_at TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (contact_id, sequence)
);

CREATE TABLE drafts (
    id              UUID PRIMARY KEY,
    enrollment_id   UUID REFERENCES enrollments (id),
    contact_id      UUID NOT NULL REFERENCES contacts (id),
    step_index      INTEGER NOT NULL,
    author_kind     TEXT NOT NULL CHECK (author_kind IN ('ai', 'template', 'human')),
    subject         TEXT NOT NULL,
    body            TEXT NOT NULL,
    grounding       JSONB NOT NULL DEFAULT '[]',
    sequence_type   TEXT,  -- the sequence's type when the draft was written; graduation is per type
    findings        JSONB NOT NULL DEFAULT '[]',  -- the last evaluation's findings
    verdict         TEXT,  -- the last evaluation's verdict: auto_send, needs_approval, veto_window, manual, blocked, escalate
    evaluation      JSONB,  -- the last evaluation (every one is in the ledger)
    evaluation_context JSONB,  -- the facts it was made on (contact, account, sequence), for replays
    evaluated_under TEXT,  -- the policy version of the last evaluation
    evaluated_at    TIMESTAMPTZ,
    confidence      DOUBLE PRECISION,
    review_state    TEXT NOT NULL,
    review_deadline TIMESTAMPTZ,
    reviewed_by     TEXT REFERENCES users (username),
    reviewed_at     TIMESTAMPTZ,
    final_subject   TEXT,  -- the text sent: the reviewer's edit, or the draft's own
    final_body      TEXT,
    edit_distance   DOUBLE PRECISION,  -- normalised, from the draft's text to the final text
    sent_at         TIMESTAMPTZ,
    policy_version  TEXT NOT NULL,  -- the policy the draft was written under
    created_at      TIMESTAMPTZ NOT NULL,
    updated_at      TIMESTAMPTZ NOT NULL
);
-- Replays list drafts by time; graduation reads the sent ones.
CREATE INDEX drafts_created ON drafts (created_at);
CREATE INDEX drafts_sent ON drafts (sent_at) WHERE sent_at IS NOT NULL;

CREATE TABLE messages (
    id           UUID PRIMARY KEY,
    draft_id     UUID NOT NULL REFERENCES drafts (id),
    contact_id   UUID NOT NULL REFERENCES contacts (id),
    mailbox      TEXT NOT NULL,
    rfc_message_id TEXT NOT NULL UNIQUE,  -- stored before the SMTP conversation
    in_reply_to  TEXT,
    state        TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'in_doubt')),
    failure      TEXT,
    scheduled_at TIMESTAMPTZ NOT NULL,
    lease_until  TIMESTAMPTZ,
    sent_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE events (
    id                UUID PRIMARY KEY,
    provider          TEXT NOT NULL,
    provider_event_id TEXT NOT NULL,
    kind              TEXT NOT NULL,
    contact_id        UUID REFERENCES contacts (id),
    rfc_message_id    TEXT,
    occurred_at       TIMESTAMPTZ NOT NULL,
    received_at       TIMESTAMPTZ NOT NULL,
    payload           JSONB NOT NULL,  -- raw, as received
    UNIQUE (provider, provider_event_id)
);

-- Intent signals are read per contact.
CREATE INDEX events_contact ON events (contact_id) WHERE contact_id IS NOT NULL;
-- Events are listed by the time they were received.
CREATE INDEX events_received ON events (received_at);

CREATE TABLE escalations (
    id          UUID PRIMARY KEY,
    contact_id  UUID REFERENCES contacts (id),
    stage       TEXT NOT NULL,
    rule_id     TEXT NOT NULL,
    reason      TEXT NOT NULL,
    priority    TEXT NOT NULL,
    assignee    TEXT REFERENCES users (username),
    due_at      TIMESTAMPTZ,
    state       TEXT NOT NULL CHECK (state IN ('open', 'resolved')),
    resolution  TEXT,
    context     JSONB NOT NULL DEFAULT '{}',  -- e.g. the sequence a list-building approval is for
    created_at  TIMESTAMPTZ NOT NULL,
    resolved_at TIMESTAMPTZ
);
-- Approvals and the inbox look escalations up by contact and by state.
CREATE INDEX escalations_contact ON escalations (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX escalations_open ON escalations (stage, state);

-- Survives erasure: only a hash of the normalised address is kept.
CREATE TABLE suppressions (
    email_hash TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE ledger (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             TIMESTAMPTZ NOT NULL,
    actor_kind     TEXT NOT NULL CHECK (actor_kind IN ('ai', 'human', 'system')),
    actor_name     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    contact_id     UUID,
    account_id     UUID,
    user_id        UUID,
    job_id         BIGINT,
    policy_version TEXT,
    payload        JSONB NOT NULL
);
CREATE INDEX ledger_contact ON ledger (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX ledger_kind ON ledger (kind);

-- The ledger is append-only, whatever code or person touches the table.
CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END;
$$;
CREATE TRIGGER ledger_no_update BEFORE UPDATE OR DELETE ON ledger
    FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change();
CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON ledger
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change();

CREATE TABLE jobs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      JSONB NOT NULL,
    state        TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    run_at       TIMESTAMPTZ NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    locked_by    TEXT,
    lease_token  TEXT,
    locked_until TIMESTAMPTZ,
    last_error   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);
-- Claims scan due work only.
CREATE INDEX jobs_due ON jobs (state, run_at) WHERE state IN ('queued', 'running');
