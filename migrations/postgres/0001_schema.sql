-- The PostgreSQL schema: the SQLite schema of migrations/sqlite/0001–0010 in one step, with the
-- same tables, columns and keys, so every query runs unchanged on both. Integers are BIGINT
-- (times are unix milliseconds, UTC; flags are 0/1, as in SQLite); blobs are BYTEA. Columns
-- are commented in the SQLite migration that added them.

CREATE TABLE feeds (
    name                 TEXT PRIMARY KEY,
    url                  TEXT NOT NULL,
    etag                 TEXT,
    last_modified        TEXT,
    first_polled_at      BIGINT,
    last_success_at      BIGINT,
    last_error           TEXT,
    last_error_at        BIGINT,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    next_poll_at         BIGINT NOT NULL DEFAULT 0,
    moved_to             TEXT,
    stopped_reason       TEXT,
    failing_since        BIGINT,
    health_alerted       BIGINT NOT NULL DEFAULT 0,
    poll_started_at      BIGINT,
    poll_owner           TEXT,
    interrupted_polls    BIGINT NOT NULL DEFAULT 0,
    quarantined_reason   TEXT,
    last_parsed_at       BIGINT
);

CREATE TABLE items (
    feed           TEXT NOT NULL,
    item_key       TEXT NOT NULL,
    link           TEXT,
    title          TEXT NOT NULL,
    first_seen_at  BIGINT NOT NULL,
    note           TEXT,
    last_listed_at BIGINT,
    PRIMARY KEY (feed, item_key)
);
CREATE INDEX items_last_listed ON items (last_listed_at);

CREATE TABLE alerts (
    id         TEXT PRIMARY KEY,
    topic      TEXT NOT NULL,
    feed       TEXT NOT NULL,
    item_key   TEXT NOT NULL,
    payload    TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    link       TEXT,
    UNIQUE (topic, feed, item_key),
    FOREIGN KEY (feed, item_key) REFERENCES items (feed, item_key)
);
CREATE INDEX alerts_topic_link ON alerts (topic, link);
CREATE INDEX alerts_created ON alerts (created_at);
CREATE INDEX alerts_item ON alerts (feed, item_key);

CREATE TABLE deliveries (
    alert_id        TEXT NOT NULL REFERENCES alerts (id),
    sink            TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    claim_token     TEXT,
    receiver_hold   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (alert_id, sink)
);
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_sink_due ON deliveries (sink, status, next_attempt_at);

CREATE TABLE webhook_state (
    name            TEXT PRIMARY KEY,
    url_fingerprint TEXT NOT NULL,
    disabled_at     BIGINT,
    disabled_reason TEXT,
    enabled_at      BIGINT
);

CREATE TABLE host_memory (
    host       TEXT PRIMARY KEY,
    memory     BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    pid          BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);

CREATE TABLE pending_items (
    feed            TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    item            TEXT NOT NULL,
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    last_error      TEXT NOT NULL,
    PRIMARY KEY (feed, item_key)
);

CREATE TABLE fingerprints (
    feed        TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    signature   BYTEA NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (feed, item_key)
);
CREATE TABLE fingerprint_bands (
    band_key    BIGINT NOT NULL,
    feed        TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE INDEX fingerprint_bands_key ON fingerprint_bands (band_key, created_at);
CREATE INDEX fingerprint_bands_item ON fingerprint_bands (feed, item_key);
CREATE INDEX fingerprints_created ON fingerprints (created_at);
CREATE INDEX fingerprint_bands_created ON fingerprint_bands (created_at);

CREATE TABLE alert_duplicates (
    alert_id    TEXT NOT NULL REFERENCES alerts (id),
    feed        TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    url         TEXT,
    title       TEXT NOT NULL,
    similarity  DOUBLE PRECISION NOT NULL,
    seen_at     BIGINT NOT NULL,
    PRIMARY KEY (alert_id, feed, item_key)
);

CREATE TABLE websub_subscriptions (
    feed             TEXT PRIMARY KEY,
    hub              TEXT NOT NULL,
    topic            TEXT NOT NULL,
    callback_id      TEXT NOT NULL UNIQUE,
    secret           TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'verified', 'denied', 'removed')),
    pending_mode     TEXT CHECK (pending_mode IN ('subscribe', 'unsubscribe')),
    requested_at     BIGINT NOT NULL,
    verified_at      BIGINT,
    lease_expires_at BIGINT,
    last_error       TEXT
);
CREATE INDEX websub_lease ON websub_subscriptions (lease_expires_at);

-- Per-host politeness shared by every instance: when the next request to a host may start.
CREATE TABLE host_slots (
    host          TEXT PRIMARY KEY,
    next_start_at BIGINT NOT NULL
);
