-- handoff schema, version 2 (PostgreSQL): research and drafting.

-- What a step asks for, and who drafted it at what cost.
ALTER TABLE drafts ADD COLUMN step_kind TEXT;
ALTER TABLE drafts ADD COLUMN drafter JSONB;  -- backend, model, seed, tokens, confidence parts

-- One live draft per enrolment step: two workers drafting the same step
-- cannot both succeed. Rejected and expired drafts make room for another.
CREATE UNIQUE INDEX drafts_live_step ON drafts (enrollment_id, step_index)
    WHERE enrollment_id IS NOT NULL AND review_state NOT IN ('rejected', 'expired');

-- One research summary per account, reused by every contact there.
CREATE TABLE research (
    account_id UUID PRIMARY KEY REFERENCES accounts (id),
    data_hash  TEXT NOT NULL,  -- of the inputs it was built from: a change means a rebuild
    facts      JSONB NOT NULL,  -- [[field, text], ...]
    priorities JSONB NOT NULL DEFAULT '[]',
    built_by   TEXT NOT NULL,
    usage      JSONB,
    built_at   TIMESTAMPTZ NOT NULL
);
