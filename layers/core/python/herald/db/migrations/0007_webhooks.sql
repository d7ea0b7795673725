-- Outbound webhooks: customer endpoints subscribed to event types, the messages Herald
-- owes them (one per endpoint and event, `webhook-id` stable across retries) and the log of
-- every attempt to send one.

CREATE TABLE webhook_endpoints (
    id                       text PRIMARY KEY,
    tenant_id                text NOT NULL REFERENCES tenants (id),
    url                      text NOT NULL,
    description              text NOT NULL DEFAULT '',
    events                   text[] NOT NULL,
    status                   text NOT NULL DEFAULT 'enabled'
                                 CHECK (status IN ('enabled', 'disabled')),
    disabled_reason          text,
    -- Signing secrets (`whsec_…`): they must sign, so they cannot be hashed. After a
    -- rotation the previous one keeps signing beside the new one until it expires.
    secret                   text NOT NULL,
    previous_secret          text,
    previous_secret_expires_at timestamptz,
    -- Start of the current run of failed attempts (NULL after any success): an endpoint
    -- failing for five days is disabled.
    failing_since            timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, id);

CREATE TABLE webhook_messages (
    id               text PRIMARY KEY,            -- the `webhook-id` header
    tenant_id        text NOT NULL REFERENCES tenants (id),
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- What produced it (the events queue's message id, a test or replay): a redelivered
    -- queue message stores nothing twice.
    source_id        text NOT NULL,
    event_type       text NOT NULL,
    -- The JSON body, {"type", "timestamp", "data"}: the same bytes on every attempt.
    body             text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    -- Attempts of the current round (a replay starts a new round).
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, source_id)
);
CREATE INDEX webhook_messages_endpoint_created ON webhook_messages (endpoint_id, created_at);

CREATE TABLE webhook_attempts (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    endpoint_id      text NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    message_id       text NOT NULL REFERENCES webhook_messages (id) ON DELETE CASCADE,
    event_type       text NOT NULL,
    status_code      integer,                      -- NULL: no HTTP answer (refused, timeout)
    latency_ms       integer NOT NULL,
    response_excerpt text NOT NULL DEFAULT '',     -- at most 1 KB
    error            text,
    at               timestamptz NOT NULL DEFAULT now(),
    next_attempt_at  timestamptz
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id DESC);

-- The `webhook` channel signs what it sends with one secret per tenant, made on first use.
CREATE TABLE webhook_channel_secrets (
    tenant_id   text PRIMARY KEY REFERENCES tenants (id),
    secret      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Where the `webhook` channel reaches a user, unless the request gives a URL.
ALTER TABLE users ADD COLUMN webhook_url text;
