-- Consumers of the event log (internal/consumer): services that react to
-- other services' domain events. Each consumer has one cursor, a position in
-- events.log, advanced in the same transaction as the consumer's own
-- writes for the event, so an event's effects commit exactly when the
-- cursor moves past it: after a crash the event is handled again from the
-- start, never half and never twice.
--
-- events.log (the events service's schema) is the source because its
-- positions are gapless and become visible in order (one relay assigns
-- them, in one transaction at a time): a cursor over it cannot skip an
-- event that commits late, as a cursor over outbox ids could.
--
-- Privileges: a consuming service's role needs USAGE on schemas consumer
-- and events, SELECT, INSERT, UPDATE on consumer.cursors, INSERT on
-- consumer.handled and SELECT on events.log.

CREATE TABLE consumer.cursors (
    name          text        PRIMARY KEY CHECK (btrim(name) <> ''),
    -- The last position handled (or skipped as of no interest).
    position      bigint      NOT NULL CHECK (position >= 0),
    handled       bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The failure that holds the consumer at the event after position, for
    -- operators; empty when it is not stuck.
    last_error    text        NOT NULL DEFAULT '',
    failing_since timestamptz
);

-- The events each consumer has applied, by event id, written in the
-- handler's transaction: an event seen again (the cursor set back by an
-- operator, a log rebuilt) is passed over, never applied twice. Events
-- carry the state after their change, so applying an old one again would
-- undo what came after it.
CREATE TABLE consumer.handled (
    name       text        NOT NULL REFERENCES consumer.cursors (name) ON DELETE CASCADE,
    event_id   uuid        NOT NULL,
    position   bigint      NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (name, event_id)
);

---- create above / drop below ----

DROP TABLE consumer.handled;
DROP TABLE consumer.cursors;
