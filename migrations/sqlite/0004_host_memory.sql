-- Per-host fingerprints of text blocks seen on earlier pages (site-template learning).
CREATE TABLE host_memory (
    host       TEXT PRIMARY KEY,
    memory     BLOB NOT NULL,
    updated_at INTEGER NOT NULL
);
