-- internal/idempotency, the one idempotency store of every service, keeps
-- the first answer of a write whose answer cannot be read back later.
ALTER TABLE clients.idempotency_keys ADD COLUMN response bytea;

---- create above / drop below ----

ALTER TABLE clients.idempotency_keys DROP COLUMN response;
