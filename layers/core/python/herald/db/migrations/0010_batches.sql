-- Batches: up to 50,000 recipients, each with its own variables, sent as one notification
-- whose deliveries are planned in bounded slices. Stats read deliveries by creation time.

CREATE TABLE batches (
    id               text PRIMARY KEY,
    tenant_id        text NOT NULL REFERENCES tenants (id),
    status           text NOT NULL CHECK (status IN ('open', 'processing', 'completed', 'canceled')),
    -- The send itself (template or content, variables, channels, category...), as given.
    request          jsonb NOT NULL,
    total            integer NOT NULL DEFAULT 0,
    duplicates       integer NOT NULL DEFAULT 0,
    -- The index the next recipient added gets (duplicates leave gaps).
    next_index       integer NOT NULL DEFAULT 0,
    -- Set at start: the notification whose deliveries the batch's recipients become.
    notification_id  text UNIQUE REFERENCES notifications (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    completed_at     timestamptz
);
CREATE INDEX batches_tenant ON batches (tenant_id, id DESC);

CREATE TABLE batch_recipients (
    batch_id     text NOT NULL REFERENCES batches (id),
    idx          integer NOT NULL,
    recipient    jsonb NOT NULL,
    variables    jsonb NOT NULL DEFAULT '{}',
    -- Who the recipient is (user id, else address): the same person twice is a duplicate.
    identity     text NOT NULL,
    PRIMARY KEY (batch_id, idx),
    UNIQUE (batch_id, identity)
);

-- A started batch is planned in slices, one dispatch message each; the batch's notification
-- cannot complete while a slice has not been planned yet.
CREATE TABLE batch_slices (
    batch_id       text NOT NULL REFERENCES batches (id),
    first_index    integer NOT NULL,
    last_index     integer NOT NULL,
    dispatched_at  timestamptz,
    PRIMARY KEY (batch_id, first_index)
);
CREATE INDEX batch_slices_pending ON batch_slices (batch_id) WHERE dispatched_at IS NULL;

-- A batch recipient's own template variables, over the notification's.
ALTER TABLE deliveries ADD COLUMN recipient_variables jsonb;
-- A batch's counts: one index-only scan per status over its notification's deliveries.
CREATE INDEX deliveries_notification_status ON deliveries (notification_id, status);
-- Stats: deliveries of a tenant by creation time.
CREATE INDEX deliveries_tenant_created ON deliveries (tenant_id, created_at);

-- Stats: when each delivery was first handed to its provider (accept -> sent latency). Set by
-- the database as the status first moves to a sent-or-later state, whichever code moves it.
ALTER TABLE deliveries ADD COLUMN sent_at timestamptz;
CREATE FUNCTION deliveries_stamp_sent() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.sent_at IS NULL AND NEW.status IN ('sent', 'delivered', 'opened', 'clicked', 'read')
    THEN
        NEW.sent_at := now();
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER deliveries_sent_at BEFORE UPDATE OF status ON deliveries
    FOR EACH ROW WHEN (NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION deliveries_stamp_sent();
