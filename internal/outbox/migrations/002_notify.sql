-- Wake the relay when events commit: NOTIFY is delivered at commit, once per
-- transaction and channel, so a listener learns of new rows without polling
-- (it still polls slowly, in case a notification is lost with a connection).
CREATE FUNCTION outbox.notify_relay() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('ipsbridge_outbox', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER events_notify_relay AFTER INSERT ON outbox.events
    FOR EACH STATEMENT EXECUTE FUNCTION outbox.notify_relay();

---- create above / drop below ----

DROP TRIGGER events_notify_relay ON outbox.events;
DROP FUNCTION outbox.notify_relay();
