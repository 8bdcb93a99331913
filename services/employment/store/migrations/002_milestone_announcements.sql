-- What this service keeps of a client for its domain events. A write that
-- reports events upserts the client's row first and so holds it until
-- commit: the row is the client's lock, which puts the outbox rows of one
-- client in the order of its changes (the milestone sweep takes it too).
-- region_id is the client's region as the clients service said at that
-- write; the sweep, which has no caller to ask the clients service with,
-- reads it here.
CREATE TABLE employment.clients (
    client_id  uuid PRIMARY KEY,
    region_id  text NOT NULL CHECK (btrim(region_id) <> ''),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Milestones already announced with a MilestoneReached event: one row per
-- client and kind, inserted in the transaction of the event, so a milestone
-- is announced exactly once whichever write or sweep replica reaches it
-- first. Milestones are derived from the placement history (domain
-- Milestones); this records only that, and from what, one was announced.
CREATE TABLE employment.announced_milestones (
    client_id           uuid NOT NULL REFERENCES employment.clients (client_id),
    kind                text NOT NULL CHECK (kind IN ('first_employer_contact', 'job_start', 'employed_3_months', 'employed_6_months')),
    reached_on          date NOT NULL,
    -- Evidence: the placements a job start or continuous employment was
    -- derived from, or the first employer contact.
    placement_ids       uuid[] NOT NULL DEFAULT '{}',
    employer_contact_id uuid REFERENCES employment.employer_contacts (id),
    announced_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, kind)
);

---- create above / drop below ----

DROP TABLE employment.announced_milestones;
DROP TABLE employment.clients;
