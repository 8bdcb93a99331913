-- Benefits' idempotency keys move to internal/idempotency, the one store of
-- every service: scoped to the caller's identity and method rather than the
-- organisation (two colleagues' keys must never replay each other's
-- answers). Keys are short-lived retry tokens, so the old ones are dropped.
DROP TABLE benefits.idempotency_keys;

CREATE TABLE benefits.idempotency_keys (
    actor_id     text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  text NOT NULL DEFAULT '',
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, method, key)
);

---- create above / drop below ----

DROP TABLE benefits.idempotency_keys;

CREATE TABLE benefits.idempotency_keys (
    org_id       text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, method, key)
);
