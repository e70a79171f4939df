-- Webhooks disabled by a 410 Gone answer, until their URL changes or an operator re-enables them.
CREATE TABLE webhook_state (
    name            TEXT PRIMARY KEY,
    url_fingerprint TEXT NOT NULL,
    disabled_at     INTEGER,
    disabled_reason TEXT
);
