-- The transactional outbox. Every service appends the events of a domain
-- change to this table in the same transaction as the change, so an event
-- exists if and only if its change committed.
--
-- The dispatcher's relay moves committed rows into events.log (deleting them
-- here) under one lock and gives them their global position there. It never
-- keeps a "last id seen" cursor over this table: ids are taken when a row is
-- inserted, not when its transaction commits, so a transaction that took id
-- 7 may commit after the one that took id 8. A cursor past 8 would skip 7
-- for ever; a queue drained by DELETE picks 7 up whenever it becomes visible.
--
-- Privileges: a service's role needs USAGE on schema outbox and INSERT on
-- outbox.events; the dispatcher's role needs SELECT and DELETE.

CREATE TABLE outbox.events (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The CloudEvents id the subscriber sees, unique for ever.
    event_id     uuid        NOT NULL UNIQUE,
    source       text        NOT NULL CHECK (btrim(source) <> ''),
    type         text        NOT NULL CHECK (btrim(type) <> ''),
    client_id    text        NOT NULL CHECK (btrim(client_id) <> ''),
    region_id    text        NOT NULL CHECK (btrim(region_id) <> ''),
    -- The section whose read permission decides who may receive the event.
    section      text        NOT NULL CHECK (btrim(section) <> ''),
    -- For benefit events: the organisation that pays the benefit. Payers see
    -- only the benefits they pay, in events as in the API.
    payer_org_id text        NOT NULL DEFAULT '',
    subject      text        NOT NULL DEFAULT '',
    -- Thin payload: ids and what changed.
    change       jsonb       NOT NULL DEFAULT '{}',
    -- The section's data, sent only to subscribers that ask for it and may
    -- read the section at delivery time.
    data         jsonb       NOT NULL DEFAULT '{}',
    occurred_at  timestamptz NOT NULL DEFAULT now()
);

---- create above / drop below ----

DROP TABLE outbox.events;
