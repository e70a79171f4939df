-- Times are unix milliseconds (UTC).

CREATE TABLE feeds (
    name                 TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    first_polled_at      INTEGER,          -- NULL until the first successful poll
    last_success_at      INTEGER,
    last_error           TEXT,
    last_error_at        INTEGER,
    consecutive_failures INTEGER NOT NULL DEFAULT 0,
    next_poll_at         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE items (
    feed          TEXT NOT NULL,
    item_key      TEXT NOT NULL,
    link          TEXT,
    title         TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    PRIMARY KEY (feed, item_key)
);

CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,             -- ULID, also the webhook-id header
    topic      TEXT NOT NULL,
    feed       TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    payload    TEXT NOT NULL,                -- the JSON body, byte-exact across retries
    created_at INTEGER NOT NULL,
    UNIQUE (topic, feed, item_key),
    FOREIGN KEY (feed, item_key) REFERENCES items (feed, item_key)
);

-- The outbox: one row per (alert, destination).
CREATE TABLE deliveries (
    alert_id        TEXT NOT NULL REFERENCES alerts (id),
    sink            TEXT NOT NULL,           -- a webhook name, or '@stdout'
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    last_error      TEXT,
    delivered_at    INTEGER,
    PRIMARY KEY (alert_id, sink)
);

CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
