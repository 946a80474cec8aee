-- handoff schema, version 3 (PostgreSQL): crash-safe sending.

-- The lease that fences a send's outcome, who holds it, and how often the
-- message was tried. `failure` (from version 1) holds the typed reason as JSON.
ALTER TABLE messages ADD COLUMN lease_token TEXT;
ALTER TABLE messages ADD COLUMN claimed_by TEXT;
ALTER TABLE messages ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN updated_at TIMESTAMPTZ;

-- Claims take due queued messages oldest first; recovery looks for
-- expired leases.
CREATE INDEX messages_due ON messages (scheduled_at, id) WHERE state = 'queued';
CREATE INDEX messages_sending ON messages (lease_until) WHERE state = 'sending';
CREATE INDEX messages_in_doubt ON messages (created_at) WHERE state = 'in_doubt';
-- One live message per draft: a draft is never queued twice. A failed
-- message makes room for another.
CREATE UNIQUE INDEX messages_live_draft ON messages (draft_id) WHERE state <> 'failed';

-- Secrets every process on this database shares (the unsubscribe key).
CREATE TABLE workspace_secrets (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);
