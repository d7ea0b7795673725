-- Herald schema, version 1: tenants, API keys, notifications, deliveries and their history,
-- idempotency keys. Every table holding customer data carries tenant_id.

CREATE TABLE tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants (id),
    name          text NOT NULL DEFAULT '',
    -- SHA-256 of the key: keys are 256-bit random, so a fast hash is enough and the
    -- plaintext is shown once, at creation, and never stored.
    key_hash      bytea NOT NULL UNIQUE,
    key_prefix    text NOT NULL,
    scopes        text[] NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

CREATE TABLE notifications (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    status           text NOT NULL CHECK (status IN
                         ('accepted', 'scheduled', 'processing', 'completed', 'canceled', 'failed')),
    channels         text[] NOT NULL,
    recipients       jsonb NOT NULL,
    content          jsonb NOT NULL,
    category         text,
    priority         text NOT NULL DEFAULT 'normal',
    critical         boolean NOT NULL DEFAULT false,
    metadata         jsonb NOT NULL DEFAULT '{}',
    recipient_count  integer NOT NULL,
    send_at          timestamptz,
    schedule_name    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz,
    completed_at     timestamptz
);
CREATE INDEX notifications_tenant_created ON notifications (tenant_id, id DESC);
-- The sweeper looks for work that was accepted but never dispatched.
CREATE INDEX notifications_pending ON notifications (created_at)
    WHERE status IN ('accepted', 'scheduled', 'processing');

CREATE TABLE deliveries (
    id                   text PRIMARY KEY,
    tenant_id            text NOT NULL REFERENCES tenants (id),
    notification_id      text NOT NULL REFERENCES notifications (id),
    recipient_index      integer NOT NULL,
    channel              text NOT NULL,
    recipient            jsonb NOT NULL,
    address              text,
    status               text NOT NULL CHECK (status IN
                             ('queued', 'deferred', 'sending', 'sent', 'delivered', 'opened',
                              'clicked', 'read', 'failed', 'bounced', 'skipped', 'canceled')),
    reason               text,
    provider             text,
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0,
    next_attempt_at      timestamptz,
    -- A worker owns a delivery in `sending` until this instant; a redelivered queue message
    -- may take it over only after the lease lapsed (the first worker died mid-send).
    lease_expires_at     timestamptz,
    error                text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    -- Dispatch is retried at least once; this makes inserting deliveries idempotent.
    UNIQUE (notification_id, recipient_index, channel)
);
CREATE INDEX deliveries_notification ON deliveries (notification_id);
CREATE INDEX deliveries_provider_message ON deliveries (provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX deliveries_in_flight ON deliveries (updated_at)
    WHERE status IN ('queued', 'deferred', 'sending');

CREATE TABLE delivery_events (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id          text NOT NULL REFERENCES tenants (id),
    delivery_id        text NOT NULL REFERENCES deliveries (id),
    status             text NOT NULL,
    at                 timestamptz NOT NULL DEFAULT now(),
    detail             jsonb NOT NULL DEFAULT '{}',
    -- The provider's own event id (SendGrid sg_event_id): a replayed callback is a no-op.
    provider_event_id  text,
    UNIQUE (delivery_id, provider_event_id)
);
CREATE INDEX delivery_events_delivery ON delivery_events (delivery_id, id);

CREATE TABLE idempotency_keys (
    tenant_id        text NOT NULL REFERENCES tenants (id),
    key              text NOT NULL,
    request_hash     text NOT NULL,
    response_status  integer NOT NULL,
    response_body    jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
