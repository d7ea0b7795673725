-- Two lanes per channel: a notification's deliveries go on its channels' bulk queues (a
-- batch, a `priority: "low"` send) or their normal queues (everything else), so a batch
-- draining never delays a transactional send. Set once, when the notification is created;
-- dispatch, the workers' retries and the sweeper all read it from here.
ALTER TABLE notifications ADD COLUMN lane text NOT NULL DEFAULT 'normal'
    CHECK (lane IN ('normal', 'bulk'));
