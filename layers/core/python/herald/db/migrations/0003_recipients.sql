-- Recipients: the tenant's users with their preferences, the history of preference changes,
-- and suppressed addresses. Devices and the in-app inbox come with their own migrations.

CREATE TABLE users (
    tenant_id    text NOT NULL REFERENCES tenants (id),
    user_id      text NOT NULL,            -- the customer's own id
    email        text,
    phone        text,                     -- E.164
    name         text,
    locale       text,                     -- BCP 47
    timezone     text,                     -- IANA
    data         jsonb NOT NULL DEFAULT '{}',
    -- The Preferences model as JSON:
    -- {"channels": {...}, "categories": {...}, "quiet_hours": {"start", "end"} | null}
    preferences  jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);

-- Who changed what, when: consent records. Personal data, erased with the user.
CREATE TABLE preference_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenants (id),
    user_id     text,                      -- null for an address-only change
    address     text,
    source      text NOT NULL CHECK (source IN ('api', 'page', 'one_click', 'provider')),
    -- What changed, e.g. {"categories": {"marketing": false}} or {"suppressed": "bounce"}.
    change      jsonb NOT NULL,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX preference_events_user ON preference_events (tenant_id, user_id, id);

-- Addresses Herald must not send to, whoever they belong to: they outlive a user's erasure.
CREATE TABLE suppressions (
    tenant_id   text NOT NULL REFERENCES tenants (id),
    address     text NOT NULL,             -- lower-cased email, or E.164 phone
    reason      text NOT NULL CHECK (reason IN
                    ('bounce', 'dropped', 'spamreport', 'unsubscribe', 'stop', 'manual')),
    source      text NOT NULL,             -- 'sendgrid', 'twilio', 'one_click', 'api'
    detail      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, address)
);

-- Erasing a user anonymises their deliveries without scanning the tenant's history.
CREATE INDEX deliveries_user ON deliveries (tenant_id, (recipient ->> 'user_id'));

-- The preference center lists the categories a tenant sent in the last 90 days: one index
-- probe per category (a skip scan), however many notifications the tenant sends.
CREATE INDEX notifications_category ON notifications (tenant_id, category, created_at)
    WHERE category IS NOT NULL;
