-- Templates: a key per tenant, with immutable numbered versions. Each version holds the
-- content of every channel in every locale, and the variables it needs.

CREATE TABLE templates (
    id              text PRIMARY KEY,
    tenant_id       text NOT NULL REFERENCES tenants (id),
    key             text NOT NULL,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    -- The version sends use; rolling back points this at an earlier version.
    active_version  integer NOT NULL,
    latest_version  integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    archived_at     timestamptz,
    UNIQUE (tenant_id, key)
);

CREATE TABLE template_versions (
    template_id  text NOT NULL REFERENCES templates (id),
    version      integer NOT NULL,
    tenant_id    text NOT NULL REFERENCES tenants (id),
    name         text NOT NULL,
    -- The default locale; `contents` is {locale: {channel: content}} and always holds it.
    locale       text NOT NULL,
    contents     jsonb NOT NULL,
    variables    text[] NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (template_id, version)
);

-- A notification sent by template records the version it used: a later edit, rollback or
-- archive never changes what an accepted notification sends.
ALTER TABLE notifications
    ADD COLUMN template_id       text REFERENCES templates (id),
    ADD COLUMN template_version  integer,
    ADD COLUMN variables         jsonb NOT NULL DEFAULT '{}';

-- The locale whose content a delivery renders, chosen per recipient at dispatch.
ALTER TABLE deliveries ADD COLUMN locale text;
