-- An organisation learns nothing about events it may not see (issue 14):
-- deliveries are made only for subscriptions whose organisation may see the
-- event, a delivery withheld later is deleted rather than kept, and delivery
-- ids are random, so that the id an org_admin sees tells nothing about how
-- many deliveries other organisations got in between.

DELETE FROM events.deliveries WHERE state = 'withheld';

-- A random positive 63-bit id (60 random bits of a v4 UUID).
CREATE FUNCTION events.random_delivery_id() RETURNS bigint LANGUAGE sql VOLATILE AS $$
    SELECT greatest(1, ('x' || substr(translate(gen_random_uuid()::text, '-', ''), 1, 16))::bit(64)::bigint
        & 9223372036854775807)
$$;

ALTER TABLE events.deliveries ALTER COLUMN id DROP IDENTITY;
ALTER TABLE events.deliveries ALTER COLUMN id SET DEFAULT events.random_delivery_id();

-- Dead letters are listed newest event first; ids no longer say which.
DROP INDEX events.deliveries_dead;
CREATE INDEX deliveries_dead ON events.deliveries (subscription_id, position) WHERE state = 'dead';

---- create above / drop below ----

DROP INDEX events.deliveries_dead;
CREATE INDEX deliveries_dead ON events.deliveries (subscription_id, id) WHERE state = 'dead';
ALTER TABLE events.deliveries ALTER COLUMN id DROP DEFAULT;
ALTER TABLE events.deliveries ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
DROP FUNCTION events.random_delivery_id();
