-- Crash-loop protection. A poll is marked as started (by which instance) before any work, so a
-- process that dies mid-poll leaves a trace: the feed is then backed off rather than polled
-- again at once, and quarantined after repeated deaths.
ALTER TABLE feeds ADD COLUMN poll_started_at INTEGER;
ALTER TABLE feeds ADD COLUMN poll_owner TEXT;
ALTER TABLE feeds ADD COLUMN interrupted_polls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE feeds ADD COLUMN quarantined_reason TEXT;

-- Running feedwatch processes (daemons and `once` runs) on this store, with a heartbeat, so a
-- poll whose owner stopped beating is known to have died with it.
CREATE TABLE instances (
    id           TEXT PRIMARY KEY,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL
);

-- Why an item was matched on less than its full article (its page was not an article, or its
-- analysis ran over budget).
ALTER TABLE items ADD COLUMN note TEXT;
