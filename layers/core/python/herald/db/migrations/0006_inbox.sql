-- The in-app inbox: one item per in_app delivery, its read/seen/archived/snoozed states, the
-- origins a tenant's browsers may call the inbox from, and the open realtime connections.

CREATE TABLE inbox_items (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    user_id          text NOT NULL,
    -- One item per delivery: a worker that runs twice for the same delivery stores it once.
    -- NULL once the delivery is gone (never, today) or for an erased user's anonymised row.
    delivery_id      text UNIQUE REFERENCES deliveries (id),
    notification_id  text,
    title            text NOT NULL,
    body             text NOT NULL,
    action_url       text,
    actions          jsonb NOT NULL DEFAULT '[]',
    data             jsonb NOT NULL DEFAULT '{}',
    category         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    seen_at          timestamptz,
    read_at          timestamptz,
    archived_at      timestamptz,
    snoozed_until    timestamptz,
    expires_at       timestamptz
);
-- Lists, newest first, per user (ids are time-sortable).
CREATE INDEX inbox_items_user ON inbox_items (tenant_id, user_id, id DESC);
-- Counts read only the index entries of the items they count: the unarchived ones, the unread
-- and the unseen among them. Snooze and expiry depend on the time of the query, so they are
-- index columns rather than index predicates, and an index-only scan filters on them.
CREATE INDEX inbox_items_active ON inbox_items (tenant_id, user_id, snoozed_until, expires_at)
    WHERE archived_at IS NULL;
CREATE INDEX inbox_items_unread ON inbox_items (tenant_id, user_id, snoozed_until, expires_at)
    WHERE archived_at IS NULL AND read_at IS NULL;
CREATE INDEX inbox_items_unseen ON inbox_items (tenant_id, user_id, snoozed_until, expires_at)
    WHERE archived_at IS NULL AND seen_at IS NULL;

-- Browser origins allowed to call /v1/me (CORS) and open the realtime socket. NULL: any
-- origin (the credential is the user token in the Authorization header, never a cookie).
ALTER TABLE tenants ADD COLUMN inbox_allowed_origins text[];

-- Open WebSocket connections (API Gateway WebSocket API, or the local runtime's server).
CREATE TABLE inbox_connections (
    connection_id  text PRIMARY KEY,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    user_id        text NOT NULL,
    connected_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_connections_user ON inbox_connections (tenant_id, user_id);
