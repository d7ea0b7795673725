-- SMS and WhatsApp through Twilio: what a delivery measured about its message, the
-- WhatsApp customer-service windows, and a way from a phone number to its deliveries.

-- What the channel measured about the message it sent, e.g. {"encoding": "GSM-7",
-- "segments": 2} for SMS and WhatsApp text.
ALTER TABLE deliveries ADD COLUMN attributes jsonb NOT NULL DEFAULT '{}';

-- WhatsApp lets a business send free-form text only within 24 hours of the user's last
-- message to that business number. Inbound callbacks record it here. The sender is the
-- deployment's number (shared by its tenants), so the window belongs to the number pair,
-- not to a tenant.
CREATE TABLE whatsapp_sessions (
    sender            text NOT NULL,       -- whatsapp:+E164 of the business
    address           text NOT NULL,       -- +E164 of the user
    last_inbound_at   timestamptz NOT NULL,
    PRIMARY KEY (sender, address)
);

-- An inbound STOP names a phone number only: find the tenants that message it.
CREATE INDEX deliveries_phone ON deliveries (address, tenant_id)
    WHERE channel IN ('sms', 'whatsapp');
