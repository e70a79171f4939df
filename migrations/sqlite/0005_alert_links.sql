-- The canonical article link of each alert, so one story reached through several feeds alerts
-- once per topic.
ALTER TABLE alerts ADD COLUMN link TEXT;
CREATE INDEX alerts_topic_link ON alerts (topic, link);
