-- Webhook messages still to be sent: what the sweeper looks for (stalled ones) and what keeps
-- its schedule alive. Both queries filter on these statuses; the table itself keeps every
-- message ever sent, so without this index each sweep would read all of them.
CREATE INDEX webhook_messages_in_flight ON webhook_messages (next_attempt_at)
    WHERE status IN ('pending', 'sending');
