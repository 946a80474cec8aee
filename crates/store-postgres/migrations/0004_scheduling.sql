-- handoff schema, version 4 (PostgreSQL): the scheduler and circuit breakers.

-- When a message was last claimed: daily caps and spacing count claims
-- (a claim is the send decision), per mailbox and per contact.
ALTER TABLE messages ADD COLUMN claimed_at TIMESTAMPTZ;
CREATE INDEX messages_mailbox_claimed ON messages (mailbox, claimed_at) WHERE claimed_at IS NOT NULL;
CREATE INDEX messages_contact_claimed ON messages (contact_id, claimed_at) WHERE claimed_at IS NOT NULL;

-- The playbook's sending rules as the senders on this database apply them
-- (one row; JSON of handoff_domain::schedule::SendPolicy).
CREATE TABLE send_policy (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    policy      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);

-- Each sending mailbox: warm-up starts at its first send; a tripped
-- breaker pauses it until a person resumes it. Claims lock these rows
-- (FOR UPDATE, in address order) so concurrent claimers cannot exceed a cap.
CREATE TABLE mailbox_states (
    address       TEXT PRIMARY KEY,
    first_sent_at TIMESTAMPTZ,
    paused_at     TIMESTAMPTZ,
    paused_reason TEXT,
    resumed_at    TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);

-- A sequence's breaker.
ALTER TABLE sequences ADD COLUMN paused_at TIMESTAMPTZ;
ALTER TABLE sequences ADD COLUMN paused_reason TEXT;
ALTER TABLE sequences ADD COLUMN resumed_at TIMESTAMPTZ;

-- Breakers count recent bounces and complaints.
CREATE INDEX events_kind_received ON events (kind, received_at);
