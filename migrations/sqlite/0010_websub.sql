-- WebSub subscriptions (see src/websub.rs): at most one per feed, to the hub its document or
-- its Link headers name. `callback_id` is the unguessable last segment of the callback URL;
-- `secret` signs the hub's content distributions. `pending_mode` is the request sent and not
-- yet verified ('subscribe' or 'unsubscribe'): the hub's verification GET is answered only for
-- it. Times are unix milliseconds (UTC).
CREATE TABLE websub_subscriptions (
    feed             TEXT PRIMARY KEY,
    hub              TEXT NOT NULL,
    topic            TEXT NOT NULL,
    callback_id      TEXT NOT NULL UNIQUE,
    secret           TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('pending', 'verified', 'denied', 'removed')),
    pending_mode     TEXT CHECK (pending_mode IN ('subscribe', 'unsubscribe')),
    requested_at     INTEGER NOT NULL,
    verified_at      INTEGER,
    lease_expires_at INTEGER,
    last_error       TEXT
);
CREATE INDEX websub_lease ON websub_subscriptions (lease_expires_at);
