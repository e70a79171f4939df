-- Per-host politeness shared by every process on the store: when the next request to a host
-- may start (unix milliseconds). Used when several instances share a store.
CREATE TABLE host_slots (
    host          TEXT PRIMARY KEY,
    next_start_at INTEGER NOT NULL
);
