-- Stats read an hourly rollup, not the deliveries (GET /v1/stats over a million deliveries
-- reads a few hundred rows). Per (tenant, hour of the delivery's creation, channel, category):
-- deliveries per status, and a histogram of accept -> sent latency in fixed log-spaced buckets.
--
-- Kept exact by the database itself, whichever code moves a delivery: a statement-level
-- trigger on deliveries appends what each INSERT or UPDATE statement changed (one grouped row
-- per key and status or latency bucket; an UPDATE that moves no status adds nothing) to
-- delivery_stats_changes, in the same transaction. Appending takes no lock another writer
-- waits on. The sweeper folds the changes into the rollup (herald.db.stats.fold); a stats
-- read adds the changes not folded yet, so it is exact at any moment.

-- '' is "no category" (a primary key cannot hold NULL).
CREATE TABLE delivery_stats_hourly (
    tenant_id  text NOT NULL,
    hour       timestamptz NOT NULL,
    channel    text NOT NULL,
    category   text NOT NULL,
    status     text NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, hour, channel, category, status)
);

-- Bucket 0: under 1 ms; bucket k (1..256): [1 ms * 2^((k-1)/8), 1 ms * 2^(k/8)), each about
-- 9% wider than the one before; bucket 257: 2^32 ms (49.7 days) or more.
CREATE TABLE delivery_latency_hourly (
    tenant_id  text NOT NULL,
    hour       timestamptz NOT NULL,
    channel    text NOT NULL,
    category   text NOT NULL,
    bucket     smallint NOT NULL,
    n          bigint NOT NULL,
    PRIMARY KEY (tenant_id, hour, channel, category, bucket)
);

-- Not folded yet: each row a count change of one status, or of one latency bucket.
CREATE TABLE delivery_stats_changes (
    tenant_id  text NOT NULL,
    hour       timestamptz NOT NULL,
    channel    text NOT NULL,
    category   text NOT NULL,
    status     text,
    bucket     smallint,
    n          bigint NOT NULL,
    CHECK ((status IS NULL) <> (bucket IS NULL))
);
CREATE INDEX delivery_stats_changes_tenant ON delivery_stats_changes (tenant_id, hour);

CREATE FUNCTION delivery_latency_bucket(seconds double precision) RETURNS smallint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN seconds < 0.001 THEN 0
                ELSE least(1 + floor(8 * ln(seconds / 0.001) / ln(2)), 257) END::smallint
$$;

CREATE FUNCTION delivery_stats_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO delivery_stats_changes (tenant_id, hour, channel, category, status, bucket, n)
        SELECT d.tenant_id, date_trunc('hour', d.created_at, 'UTC'), d.channel,
               COALESCE(ntf.category, ''), m.status, m.bucket, count(*)
        FROM new_rows d JOIN notifications ntf ON ntf.id = d.notification_id
        CROSS JOIN LATERAL (VALUES (d.status, NULL::smallint),
            (NULL, delivery_latency_bucket(extract(epoch FROM d.sent_at - ntf.created_at)::float8))
        ) AS m (status, bucket)
        WHERE m.status IS NOT NULL OR m.bucket IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6;
    ELSE
        INSERT INTO delivery_stats_changes (tenant_id, hour, channel, category, status, bucket, n)
        SELECT d.tenant_id, date_trunc('hour', d.created_at, 'UTC'), d.channel,
               COALESCE(ntf.category, ''), m.status, m.bucket, sum(d.sign)
        FROM (
            SELECT nw.tenant_id, nw.notification_id, nw.channel, nw.created_at, s.sign,
                   s.status, s.sent_at
            FROM new_rows nw JOIN old_rows o ON o.id = nw.id
            CROSS JOIN LATERAL (VALUES (1, nw.status, nw.sent_at), (-1, o.status, o.sent_at))
                AS s (sign, status, sent_at)
            WHERE nw.status IS DISTINCT FROM o.status OR nw.sent_at IS DISTINCT FROM o.sent_at
        ) d JOIN notifications ntf ON ntf.id = d.notification_id
        CROSS JOIN LATERAL (VALUES (d.status, NULL::smallint),
            (NULL, delivery_latency_bucket(extract(epoch FROM d.sent_at - ntf.created_at)::float8))
        ) AS m (status, bucket)
        WHERE m.status IS NOT NULL OR m.bucket IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6
        HAVING sum(d.sign) <> 0;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER deliveries_stats_insert AFTER INSERT ON deliveries
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_stats_track();
CREATE TRIGGER deliveries_stats_update AFTER UPDATE ON deliveries
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION delivery_stats_track();

-- The deliveries already there.
INSERT INTO delivery_stats_hourly (tenant_id, hour, channel, category, status, n)
SELECT d.tenant_id, date_trunc('hour', d.created_at, 'UTC'), d.channel,
       COALESCE(ntf.category, ''), d.status, count(*)
FROM deliveries d JOIN notifications ntf ON ntf.id = d.notification_id
GROUP BY 1, 2, 3, 4, 5;
INSERT INTO delivery_latency_hourly (tenant_id, hour, channel, category, bucket, n)
SELECT d.tenant_id, date_trunc('hour', d.created_at, 'UTC'), d.channel,
       COALESCE(ntf.category, ''),
       delivery_latency_bucket(extract(epoch FROM d.sent_at - ntf.created_at)::float8), count(*)
FROM deliveries d JOIN notifications ntf ON ntf.id = d.notification_id
WHERE d.sent_at IS NOT NULL
GROUP BY 1, 2, 3, 4, 5;

-- A batch's throttle: about this many sends a second (herald.services.throttle).
ALTER TABLE batches ADD COLUMN throttle_per_second integer CHECK (throttle_per_second > 0);
