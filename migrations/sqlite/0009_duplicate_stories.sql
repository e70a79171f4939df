-- Duplicate stories. Each recorded item with enough text has a MinHash fingerprint of its
-- extracted text; its band keys index it, so a later item finds the earlier copies of its story
-- (through another feed, another outlet's template, or a rewritten GUID) with one lookup.
CREATE TABLE fingerprints (
    feed        TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    signature   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (feed, item_key)
);
CREATE TABLE fingerprint_bands (
    band_key    INTEGER NOT NULL,
    feed        TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX fingerprint_bands_key ON fingerprint_bands (band_key, created_at);
CREATE INDEX fingerprint_bands_item ON fingerprint_bands (feed, item_key);

-- Later copies of an alerted story, recorded against the first alert instead of alerting again.
CREATE TABLE alert_duplicates (
    alert_id    TEXT NOT NULL REFERENCES alerts (id),
    feed        TEXT NOT NULL,
    item_key    TEXT NOT NULL,
    url         TEXT,
    title       TEXT NOT NULL,
    similarity  REAL NOT NULL,          -- 1 for the same canonical link
    seen_at     INTEGER NOT NULL,
    PRIMARY KEY (alert_id, feed, item_key)
);
