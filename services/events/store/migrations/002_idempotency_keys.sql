-- Idempotency keys of the events API (internal/idempotency): a retried
-- CreateSubscription returns the subscription the first request made.
CREATE TABLE events.idempotency_keys (
    actor_id     text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, method, key)
);

---- create above / drop below ----

DROP TABLE events.idempotency_keys;
