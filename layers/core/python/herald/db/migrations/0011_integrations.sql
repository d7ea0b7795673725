-- Integrations: a tenant's own provider accounts per channel, tried by priority (lowest
-- first), each behind a circuit breaker. The credentials live in Secrets Manager, one secret
-- per integration (`secret_id`); only their last four characters are kept here.
CREATE TABLE integrations (
    id                text PRIMARY KEY,
    tenant_id         text NOT NULL REFERENCES tenants (id),
    channel           text NOT NULL,
    provider          text NOT NULL,
    name              text NOT NULL,
    -- What is not secret: from addresses, region, configuration set, a VAPID public key.
    settings          jsonb NOT NULL DEFAULT '{}',
    priority          integer NOT NULL DEFAULT 0,
    active            boolean NOT NULL DEFAULT true,
    secret_id         text,
    credentials_last4 text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX integrations_tenant_channel ON integrations (tenant_id, channel, priority, id);

-- One breaker per integration, shared by every worker; written once per batch that used it.
-- `outcomes` holds the latest calls' results (true: failed), oldest first, at most the
-- configured window.
CREATE TABLE integration_circuits (
    integration_id text PRIMARY KEY REFERENCES integrations (id) ON DELETE CASCADE,
    tenant_id      text NOT NULL REFERENCES tenants (id),
    state          text NOT NULL DEFAULT 'closed'
                       CHECK (state IN ('closed', 'open', 'half_open')),
    outcomes       boolean[] NOT NULL DEFAULT '{}',
    opened_at      timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Which integration sent a delivery (NULL: the deployment's default account).
ALTER TABLE deliveries ADD COLUMN integration_id text;
