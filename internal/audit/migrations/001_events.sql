-- The audit log of every read and write of client data, allowed or denied
-- (NEN 7513). All services append to this one table, in the same transaction
-- as the access it records, so a write and its audit record commit together.
--
-- Privileges: nothing is granted to PUBLIC. A service's database role needs
--   GRANT USAGE ON SCHEMA audit TO <role>;
--   GRANT INSERT, SELECT ON audit.events TO <role>;
-- and must not own the table (an owner may alter or disable its triggers).
-- SELECT is needed because the chaining trigger runs with the inserter's
-- rights and reads the last row.

CREATE TABLE audit.events (
    -- Gapless chain position, assigned by audit.chain_event(); never a
    -- sequence default, whose values are taken before BEFORE triggers run and
    -- in another order than commits.
    seq          bigint      NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now(),
    service      text        NOT NULL CHECK (btrim(service) <> ''),
    actor_id     text        NOT NULL CHECK (btrim(actor_id) <> ''),
    on_behalf_of text        NOT NULL DEFAULT '',
    org_id       text        NOT NULL CHECK (btrim(org_id) <> ''),
    role         text        NOT NULL CHECK (btrim(role) <> ''),
    -- No foreign key: empty for accesses not about one client (a list), or
    -- the id of a client that does not exist (a denied probe).
    client_id    text        NOT NULL DEFAULT '',
    sections     text[]      NOT NULL DEFAULT '{}',
    action       text        NOT NULL CHECK (btrim(action) <> ''),
    outcome      text        NOT NULL CHECK (outcome IN ('allowed', 'denied')),
    reason       text        NOT NULL DEFAULT '',
    request_id   text        NOT NULL DEFAULT '',
    purpose      text        NOT NULL DEFAULT '',
    remote_addr  text        NOT NULL DEFAULT '',
    prev_hash    bytea       NOT NULL,
    hash         bytea       NOT NULL,
    CONSTRAINT events_pkey PRIMARY KEY (seq)
);

-- A client's log, newest first (audit.List).
CREATE INDEX events_client_seq_idx ON audit.events (client_id, seq);

-- prev_hash of the first event.
CREATE FUNCTION audit.genesis_hash() RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT decode(repeat('00', 32), 'hex') $$;

-- hash = sha256(prev_hash || canonical text of every other field). The
-- canonical text is jsonb's (keys sorted, fixed spacing); the time is
-- formatted in UTC and the hash kept out of the json so that neither the
-- session's TimeZone nor bytea_output changes the result.
CREATE FUNCTION audit.event_hash(e audit.events) RETURNS bytea
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT sha256(e.prev_hash || convert_to(jsonb_build_object(
        'seq',          e.seq,
        'occurred_at',  to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        'service',      e.service,
        'actor_id',     e.actor_id,
        'on_behalf_of', e.on_behalf_of,
        'org_id',       e.org_id,
        'role',         e.role,
        'client_id',    e.client_id,
        'sections',     to_jsonb(e.sections),
        'action',       e.action,
        'outcome',      e.outcome,
        'reason',       e.reason,
        'request_id',   e.request_id,
        'purpose',      e.purpose,
        'remote_addr',  e.remote_addr
    )::text, 'UTF8'))
$$;

-- Links every new row to the chain. The advisory lock is transaction-level:
-- appenders queue here until the previous one commits or rolls back, so the
-- last row read below is the committed tip and seq stays gapless. Whatever a
-- writer puts in seq, prev_hash and hash is overwritten.
CREATE FUNCTION audit.chain_event() RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    last_seq  bigint;
    last_hash bytea;
BEGIN
    -- 418581342580 is 'audit' in ASCII: the key no other lock in this
    -- database uses.
    PERFORM pg_advisory_xact_lock(418581342580);
    SELECT e.seq, e.hash INTO last_seq, last_hash
      FROM audit.events e
     ORDER BY e.seq DESC
     LIMIT 1;
    IF NOT FOUND THEN
        last_seq := 0;
        last_hash := audit.genesis_hash();
    END IF;
    NEW.seq := last_seq + 1;
    NEW.prev_hash := last_hash;
    NEW.hash := audit.event_hash(NEW);
    RETURN NEW;
END
$$;

CREATE TRIGGER events_chain
    BEFORE INSERT ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.chain_event();

-- Append-only, even for the table's owner. A superuser can still disable
-- these triggers; audit.verify_chain() detects what is changed meanwhile.
CREATE FUNCTION audit.reject_change() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'audit.events is append-only: % is not allowed', TG_OP;
END
$$;

CREATE TRIGGER events_no_update_delete
    BEFORE UPDATE OR DELETE ON audit.events
    FOR EACH ROW EXECUTE FUNCTION audit.reject_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION audit.reject_change();

REVOKE ALL ON TABLE audit.events FROM PUBLIC;

-- Recomputes the chain in seq order. first_broken_seq is the first seq whose
-- row is missing (a deleted row leaves a gap), has another prev_hash than the
-- hash of the row before it (reordered or replaced rows) or whose content no
-- longer matches its hash (a changed row); 0 when the chain is intact.
-- Deleting the newest rows leaves an intact, shorter chain: compare
-- checked and the tip with a copy kept elsewhere to detect that.
CREATE FUNCTION audit.verify_chain(OUT checked bigint, OUT first_broken_seq bigint)
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    e             audit.events;
    expected_seq  bigint := 1;
    expected_prev bytea  := audit.genesis_hash();
BEGIN
    checked := 0;
    first_broken_seq := 0;
    FOR e IN SELECT * FROM audit.events ORDER BY seq LOOP
        checked := checked + 1;
        IF first_broken_seq = 0 AND (
               e.seq <> expected_seq
            OR e.prev_hash IS DISTINCT FROM expected_prev
            OR e.hash IS DISTINCT FROM audit.event_hash(e)) THEN
            first_broken_seq := expected_seq;
        END IF;
        expected_seq := e.seq + 1;
        expected_prev := e.hash;
    END LOOP;
END
$$;

---- create above / drop below ----

DROP FUNCTION audit.verify_chain();
-- event_hash takes the table's row type, so it goes before the table.
DROP FUNCTION audit.event_hash(audit.events);
DROP TABLE audit.events;
DROP FUNCTION audit.reject_change();
DROP FUNCTION audit.chain_event();
DROP FUNCTION audit.genesis_hash();
