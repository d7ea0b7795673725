-- One breaker per channel for the deployment's own provider account (the one a tenant
-- without an integration of the channel sends through), shared by every worker and every
-- such tenant; written once per batch that used it, as `integration_circuits` are.
-- `outcomes` holds the latest calls' results (true: failed), oldest first.
CREATE TABLE default_circuits (
    channel    text PRIMARY KEY,
    provider   text NOT NULL,
    state      text NOT NULL DEFAULT 'closed'
                   CHECK (state IN ('closed', 'open', 'half_open')),
    outcomes   boolean[] NOT NULL DEFAULT '{}',
    opened_at  timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
