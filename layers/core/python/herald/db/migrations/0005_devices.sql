-- Devices: where push (FCM registration tokens, iOS through FCM's APNs config) and web push
-- (browser subscriptions) reach a user. Erased with the user (ON DELETE CASCADE).

CREATE TABLE devices (
    id                  text PRIMARY KEY,                  -- dev_…
    tenant_id           text NOT NULL,
    user_id             text NOT NULL,
    platform            text NOT NULL CHECK (platform IN ('ios', 'android', 'web')),
    -- The FCM registration token, or the web push subscription's endpoint: what makes a
    -- device the same device when it registers again.
    address             text NOT NULL,
    -- Web push only: the subscription's public key (p256dh) and auth secret, base64url.
    p256dh              text,
    auth                text,
    active              boolean NOT NULL DEFAULT true,
    deactivated_reason  text,
    deactivated_at      timestamptz,
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_seen_at        timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, user_id) ON DELETE CASCADE,
    CHECK ((platform = 'web') = (p256dh IS NOT NULL AND auth IS NOT NULL))
);
CREATE UNIQUE INDEX devices_address ON devices (tenant_id, address);
-- Dispatch and the workers read a user's active devices of some platforms.
CREATE INDEX devices_user ON devices (tenant_id, user_id, platform) WHERE active;
