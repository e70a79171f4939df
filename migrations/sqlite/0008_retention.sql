-- Retention. An item stays known while its feed still lists it: `last_listed_at` is refreshed
-- (at most once per refresh period) whenever a parse of the feed lists the item, and an item is
-- pruned only once it has been unlisted for the whole retention period.
ALTER TABLE items ADD COLUMN last_listed_at INTEGER;
UPDATE items SET last_listed_at = first_seen_at;
CREATE INDEX items_last_listed ON items (last_listed_at);
-- When the feed's document was last parsed (a 304 confirms the listing but parses nothing).
ALTER TABLE feeds ADD COLUMN last_parsed_at INTEGER;
UPDATE feeds SET last_parsed_at = last_success_at;
CREATE INDEX alerts_created ON alerts (created_at);

-- New items whose article page failed in a way that may pass (timeout, 5xx, 429): retried a few
-- times before the item falls back to its feed's text. Not in `items` until then, so a crash
-- loses nothing and the feed's next poll does not take them for new.
CREATE TABLE pending_items (
    feed            TEXT NOT NULL,
    item_key        TEXT NOT NULL,
    item            TEXT NOT NULL,      -- the feed item, as JSON
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT NOT NULL,
    PRIMARY KEY (feed, item_key)
);
