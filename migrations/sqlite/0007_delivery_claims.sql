-- Each claim of a delivery carries a fresh token. Recording its result (delivered, failed,
-- released) counts only while the row still holds that token and is pending, so a sender whose
-- lease ran out, or a second sender on the same store, can never undo a newer result.
ALTER TABLE deliveries ADD COLUMN claim_token TEXT;
-- 1 when next_attempt_at was chosen by the receiver's Retry-After (429/503) rather than by
-- feedwatch's retry schedule: the row waits as it was asked to, and `alerts retry` without ids
-- leaves it alone.
ALTER TABLE deliveries ADD COLUMN receiver_hold INTEGER NOT NULL DEFAULT 0;
-- Each webhook claims its own oldest due rows.
CREATE INDEX deliveries_sink_due ON deliveries (sink, status, next_attempt_at);
-- When an operator last enabled a webhook (`alerts retry --webhook`, or a new URL): a 410 Gone
-- answered to a request sent before then no longer disables it again.
ALTER TABLE webhook_state ADD COLUMN enabled_at INTEGER;
