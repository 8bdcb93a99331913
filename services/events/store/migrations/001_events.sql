-- The events schema: the ordered log of every domain event, the
-- subscriptions of partner organisations, and one delivery record per event
-- and subscription with every attempt.

-- Every committed domain event, in the order the relay moved it out of the
-- outbox. position is gapless and assigned by the one relay that holds the
-- relay lock, so a reader that has seen position n has seen every event
-- before it: the pull feed's cursor can never skip a late commit.
CREATE TABLE events.log (
    position     bigint      PRIMARY KEY,
    event_id     uuid        NOT NULL UNIQUE,
    source       text        NOT NULL,
    type         text        NOT NULL,
    client_id    text        NOT NULL,
    region_id    text        NOT NULL,
    section      text        NOT NULL,
    payer_org_id text        NOT NULL DEFAULT '',
    subject      text        NOT NULL DEFAULT '',
    change       jsonb       NOT NULL,
    data         jsonb       NOT NULL,
    occurred_at  timestamptz NOT NULL,
    relayed_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX log_region_position ON events.log (region_id, position);

CREATE TABLE events.subscriptions (
    id            uuid        PRIMARY KEY,
    org_id        text        NOT NULL CHECK (btrim(org_id) <> ''),
    org_kind      text        NOT NULL CHECK (btrim(org_kind) <> ''),
    region_id     text        NOT NULL CHECK (btrim(region_id) <> ''),
    url           text        NOT NULL CHECK (url ~ '^https?://'),
    -- Empty: every type.
    event_types   text[]      NOT NULL DEFAULT '{}',
    -- Thin events (ids and the change) unless the subscriber asks for the
    -- data it may read.
    include_data  boolean     NOT NULL DEFAULT false,
    active        boolean     NOT NULL DEFAULT true,
    -- Why the platform switched the subscription off (410 Gone), if it did.
    disabled_reason text      NOT NULL DEFAULT '',
    description   text        NOT NULL DEFAULT '',
    version       integer     NOT NULL DEFAULT 1,
    created_by    text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    verified_at   timestamptz NOT NULL
);

CREATE INDEX subscriptions_org ON events.subscriptions (org_id, created_at, id);
CREATE INDEX subscriptions_region_active ON events.subscriptions (region_id) WHERE active;

-- Signing keys of a subscription. Every key not yet expired signs, so during
-- a rotation the receiver can verify with the old or the new one.
CREATE TABLE events.signing_keys (
    subscription_id uuid        NOT NULL REFERENCES events.subscriptions (id) ON DELETE CASCADE,
    key_id          integer     NOT NULL,
    -- whsec_… (HMAC-SHA256, "v1") or whsk_… (ed25519 private key, "v1a").
    secret          text        NOT NULL,
    -- For ed25519: the whpk_… public key the receiver verifies with.
    public_key      text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz,
    PRIMARY KEY (subscription_id, key_id)
);

-- One row per (event, subscription). state:
--   pending   still to be sent (or being retried),
--   delivered acknowledged with 2xx,
--   dead      given up: retries exhausted, 410 Gone; listable, redeliverable,
--   withheld  not sent because the organisation may not see it now (reason).
CREATE TABLE events.deliveries (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id uuid        NOT NULL REFERENCES events.subscriptions (id) ON DELETE CASCADE,
    position        bigint      NOT NULL REFERENCES events.log (position),
    client_id       text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'dead', 'withheld')),
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    first_attempt_at timestamptz,
    lease_owner     text        NOT NULL DEFAULT '',
    lease_until     timestamptz,
    reason          text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    UNIQUE (subscription_id, position)
);

-- The claim query: due pending deliveries, and the head of each
-- (subscription, client) line, which keeps the order per client.
CREATE INDEX deliveries_due ON events.deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_line ON events.deliveries (subscription_id, client_id, position) WHERE state = 'pending';
CREATE INDEX deliveries_dead ON events.deliveries (subscription_id, id) WHERE state = 'dead';

-- Every attempt to send a delivery.
CREATE TABLE events.attempts (
    delivery_id bigint      NOT NULL REFERENCES events.deliveries (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    worker      text        NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ms integer     NOT NULL,
    status_code integer     NOT NULL DEFAULT 0,
    error       text        NOT NULL DEFAULT '',
    -- The start of the response body, for the subscriber's engineer.
    response    text        NOT NULL DEFAULT '',
    PRIMARY KEY (delivery_id, attempt)
);

---- create above / drop below ----

DROP TABLE events.attempts;
DROP TABLE events.deliveries;
DROP TABLE events.signing_keys;
DROP TABLE events.subscriptions;
DROP TABLE events.log;
