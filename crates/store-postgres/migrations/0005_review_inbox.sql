-- handoff schema, version 5 (PostgreSQL): the review queue and the escalation inbox.

-- A draft's review moved to someone other than the contact's owner.
ALTER TABLE drafts ADD COLUMN assignee TEXT REFERENCES users (username);

-- Who took an escalation's prospect over, and when; when the SLA timer
-- found it overdue and moved it to the assignee's manager (once), and whom
-- it was moved from.
ALTER TABLE escalations ADD COLUMN taken_by TEXT REFERENCES users (username);
ALTER TABLE escalations ADD COLUMN taken_at TIMESTAMPTZ;
ALTER TABLE escalations ADD COLUMN overdue_at TIMESTAMPTZ;
ALTER TABLE escalations ADD COLUMN escalated_from TEXT;

-- The person driving a human-owned prospect (handled_by = 'human').
ALTER TABLE contacts ADD COLUMN taken_over_by TEXT REFERENCES users (username);
ALTER TABLE contacts ADD COLUMN taken_over_at TIMESTAMPTZ;

-- Queues list undecided drafts by window; the SLA timer scans open
-- escalations by due time.
CREATE INDEX drafts_undecided ON drafts (review_deadline) WHERE reviewed_at IS NULL AND sent_at IS NULL;
CREATE INDEX escalations_due ON escalations (due_at) WHERE state = 'open' AND overdue_at IS NULL;
