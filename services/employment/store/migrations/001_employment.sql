-- The employment specialist's work with a client. Clients, trajectories and
-- consents live in the clients service; client_id refers to them by value.

CREATE TABLE employment.employer_contacts (
    id            uuid PRIMARY KEY,
    -- NULL for general job development, which belongs to the specialist.
    client_id     uuid,
    specialist_id text NOT NULL,
    employer_name text NOT NULL CHECK (length(employer_name) BETWEEN 1 AND 200),
    contact_date  date NOT NULL,
    face_to_face  boolean NOT NULL,
    notes         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX employer_contacts_client ON employment.employer_contacts (client_id, contact_date) WHERE client_id IS NOT NULL;
CREATE INDEX employer_contacts_general ON employment.employer_contacts (specialist_id, contact_date) WHERE client_id IS NULL;

CREATE TABLE employment.applications (
    id               uuid PRIMARY KEY,
    client_id        uuid NOT NULL,
    employer_name    text NOT NULL CHECK (length(employer_name) BETWEEN 1 AND 200),
    job_title        text NOT NULL CHECK (length(job_title) BETWEEN 1 AND 200),
    application_date date NOT NULL,
    status           text NOT NULL CHECK (status IN ('applied', 'interview', 'offered', 'rejected', 'withdrawn', 'hired')),
    version          bigint NOT NULL DEFAULT 1,
    created_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL
);
CREATE INDEX applications_client ON employment.applications (client_id, application_date);

CREATE TABLE employment.placements (
    id            uuid PRIMARY KEY,
    client_id     uuid NOT NULL,
    employer_name text NOT NULL CHECK (length(employer_name) BETWEEN 1 AND 200),
    job_title     text NOT NULL CHECK (length(job_title) BETWEEN 1 AND 200),
    start_date    date NOT NULL,
    contract_kind text NOT NULL CHECK (contract_kind IN ('permanent', 'temporary', 'zero_hours', 'on_call', 'self_employed', 'apprenticeship')),
    end_date      date,
    end_reason    text NOT NULL DEFAULT '',
    version       bigint NOT NULL DEFAULT 1,
    created_by    text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    updated_by    text NOT NULL,
    CHECK (end_date IS NULL OR end_date >= start_date)
);
CREATE INDEX placements_client ON employment.placements (client_id, start_date);

-- Every change of hours or wage, kept: the history milestones are derived
-- from. Rows are only ever added.
CREATE TABLE employment.placement_terms (
    placement_id      uuid NOT NULL REFERENCES employment.placements (id),
    seq               bigint GENERATED ALWAYS AS IDENTITY,
    effective_date    date NOT NULL,
    hours_per_week    double precision NOT NULL CHECK (hours_per_week > 0 AND hours_per_week <= 60),
    hourly_wage_cents bigint NOT NULL CHECK (hourly_wage_cents > 0),
    recorded_by       text NOT NULL,
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (placement_id, seq)
);

CREATE TABLE employment.follow_along_contacts (
    id            uuid PRIMARY KEY,
    client_id     uuid NOT NULL,
    placement_id  uuid REFERENCES employment.placements (id),
    contact_date  date NOT NULL,
    with_whom     text NOT NULL CHECK (with_whom IN ('client', 'employer', 'both')),
    notes         text NOT NULL DEFAULT '',
    specialist_id text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX follow_along_contacts_client ON employment.follow_along_contacts (client_id, contact_date);

CREATE TABLE employment.idempotency_keys (
    actor_id     text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, method, key)
);

---- create above / drop below ----

DROP TABLE employment.idempotency_keys;
DROP TABLE employment.follow_along_contacts;
DROP TABLE employment.placement_terms;
DROP TABLE employment.placements;
DROP TABLE employment.applications;
DROP TABLE employment.employer_contacts;
