-- Where a feed moved to (301/308), why it was stopped (410), and its health episodes.
ALTER TABLE feeds ADD COLUMN moved_to TEXT;
ALTER TABLE feeds ADD COLUMN stopped_reason TEXT;
ALTER TABLE feeds ADD COLUMN failing_since INTEGER;
ALTER TABLE feeds ADD COLUMN health_alerted INTEGER NOT NULL DEFAULT 0;
