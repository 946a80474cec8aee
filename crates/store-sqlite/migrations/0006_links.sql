-- Approve and reject links are single-use: each use is kept here, so a
-- second click (or a forwarded link) does nothing and can say when the
-- first one was.
CREATE TABLE used_links (
    nonce      TEXT PRIMARY KEY,
    draft_id   TEXT NOT NULL REFERENCES drafts (id),
    action     TEXT NOT NULL CHECK (action IN ('approve', 'reject')),
    used_by    TEXT NOT NULL,
    used_at    INTEGER NOT NULL
);
