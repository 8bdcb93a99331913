-- The shared idempotency store (internal/idempotency) keeps a write's
-- answer beside its resource id.
ALTER TABLE fidelity.idempotency_keys ADD COLUMN response bytea;

---- create above / drop below ----

ALTER TABLE fidelity.idempotency_keys DROP COLUMN response;
