-- Fallback channels: tried in order, per recipient, once every primary delivery gave up (or,
-- with fallback_after_seconds, none reached the recipient in time).
ALTER TABLE notifications
    ADD COLUMN fallback text[] NOT NULL DEFAULT '{}',
    ADD COLUMN fallback_after_seconds integer,
    -- When dispatch must look again at recipients no delivery has reached yet (the next
    -- fallback_after_seconds deadline); NULL when nothing waits on a timer. While set, the
    -- notification stays `processing`, and the sweeper re-dispatches it once overdue.
    ADD COLUMN fallback_check_at timestamptz;
-- The deliveries a fallback delivery stands in for (the recipient's previous step).
ALTER TABLE deliveries ADD COLUMN replaces text[];
-- What the sweeper's in-flight probe and its stalled-notification search look for.
CREATE INDEX notifications_fallback_pending ON notifications (fallback_check_at)
    WHERE status = 'processing' AND cardinality(fallback) > 0;
