-- Directory: regions, organisations, teams and users. Seeded for now; an
-- identity provider will feed users later.
CREATE TABLE clients.regions (
    id   text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    name text NOT NULL
);

CREATE TABLE clients.organizations (
    id        text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    name      text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('mha', 'uwv', 'municipality', 'independent')),
    region_id text NOT NULL REFERENCES clients.regions (id)
);

CREATE TABLE clients.teams (
    id     text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    org_id text NOT NULL REFERENCES clients.organizations (id),
    name   text NOT NULL
);

CREATE TABLE clients.users (
    id     text PRIMARY KEY,
    org_id text NOT NULL REFERENCES clients.organizations (id),
    role   text NOT NULL,
    name   text NOT NULL
);

CREATE TABLE clients.team_members (
    team_id text NOT NULL REFERENCES clients.teams (id),
    user_id text NOT NULL REFERENCES clients.users (id),
    PRIMARY KEY (team_id, user_id)
);

CREATE TABLE clients.clients (
    id         uuid PRIMARY KEY,
    mha_org_id text NOT NULL REFERENCES clients.organizations (id),
    region_id  text NOT NULL REFERENCES clients.regions (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL
);

CREATE TABLE clients.identities (
    client_id     uuid PRIMARY KEY REFERENCES clients.clients (id),
    given_name    text NOT NULL CHECK (length(given_name) BETWEEN 1 AND 200),
    family_name   text NOT NULL CHECK (length(family_name) BETWEEN 1 AND 200),
    date_of_birth date,
    email         text NOT NULL DEFAULT '',
    phone         text NOT NULL DEFAULT '',
    address       text NOT NULL DEFAULT '',
    bsn           text NOT NULL DEFAULT '' CHECK (bsn = '' OR bsn ~ '^[0-9]{9}$'),
    -- Denormalised so that one MHA cannot enrol the same person twice.
    mha_org_id    text NOT NULL,
    version       bigint NOT NULL DEFAULT 1,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX identities_bsn_per_mha ON clients.identities (mha_org_id, bsn) WHERE bsn <> '';

CREATE TABLE clients.trajectories (
    client_id        uuid PRIMARY KEY REFERENCES clients.clients (id),
    phase            text NOT NULL CHECK (phase IN ('referral', 'intake', 'job_search', 'employed', 'follow_along', 'closed')),
    team_id          text NOT NULL REFERENCES clients.teams (id),
    specialist_id    text NOT NULL DEFAULT '',
    closing_reason   text NOT NULL DEFAULT '',
    phase_started_at timestamptz NOT NULL DEFAULT now(),
    referred_at      timestamptz NOT NULL DEFAULT now(),
    version          bigint NOT NULL DEFAULT 1,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Caseload lookups: a team's clients and a specialist's clients.
CREATE INDEX trajectories_team ON clients.trajectories (team_id, client_id);
CREATE INDEX trajectories_specialist ON clients.trajectories (specialist_id, client_id);

CREATE TABLE clients.trajectory_organizations (
    client_id uuid NOT NULL REFERENCES clients.clients (id),
    org_id    text NOT NULL REFERENCES clients.organizations (id),
    PRIMARY KEY (client_id, org_id)
);

CREATE INDEX trajectory_organizations_org ON clients.trajectory_organizations (org_id, client_id);

CREATE TABLE clients.phase_changes (
    id         bigserial PRIMARY KEY,
    client_id  uuid NOT NULL REFERENCES clients.clients (id),
    from_phase text NOT NULL DEFAULT '',
    to_phase   text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL,
    reason     text NOT NULL DEFAULT ''
);

CREATE INDEX phase_changes_client ON clients.phase_changes (client_id, id);

CREATE TABLE clients.work_goals (
    client_id              uuid PRIMARY KEY REFERENCES clients.clients (id),
    preferences            text NOT NULL DEFAULT '',
    goals                  text NOT NULL DEFAULT '',
    strengths              text NOT NULL DEFAULT '',
    support_wishes         text NOT NULL DEFAULT '',
    preferred_occupations  text[] NOT NULL DEFAULT '{}',
    desired_hours_per_week integer NOT NULL DEFAULT 0 CHECK (desired_hours_per_week BETWEEN 0 AND 60),
    version                bigint NOT NULL DEFAULT 1,
    updated_at             timestamptz NOT NULL DEFAULT now(),
    updated_by             text NOT NULL DEFAULT ''
);

CREATE TABLE clients.clinical_inputs (
    client_id           uuid PRIMARY KEY REFERENCES clients.clients (id),
    notes               text NOT NULL DEFAULT '',
    work_considerations text NOT NULL DEFAULT '',
    version             bigint NOT NULL DEFAULT 1,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    updated_by          text NOT NULL DEFAULT ''
);

CREATE TABLE clients.consents (
    id         uuid PRIMARY KEY,
    client_id  uuid NOT NULL REFERENCES clients.clients (id),
    org_id     text NOT NULL REFERENCES clients.organizations (id),
    section    text NOT NULL CHECK (section IN ('identity', 'trajectory', 'work_goals', 'clinical_input', 'job_search', 'placements', 'benefits', 'milestones')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    granted_by text NOT NULL,
    revoked_at timestamptz,
    revoked_by text NOT NULL DEFAULT '',
    CHECK ((revoked_at IS NULL) = (revoked_by = ''))
);

-- At most one active consent per organisation and section; the lookup every
-- request makes.
CREATE UNIQUE INDEX consents_active ON clients.consents (client_id, org_id, section) WHERE revoked_at IS NULL;

-- Idempotency keys (AIP-155): a retried create returns the first result.
CREATE TABLE clients.idempotency_keys (
    actor_id     text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, method, key)
);

---- create above / drop below ----

DROP TABLE clients.idempotency_keys;
DROP TABLE clients.consents;
DROP TABLE clients.clinical_inputs;
DROP TABLE clients.work_goals;
DROP TABLE clients.phase_changes;
DROP TABLE clients.trajectory_organizations;
DROP TABLE clients.trajectories;
DROP TABLE clients.identities;
DROP TABLE clients.clients;
DROP TABLE clients.team_members;
DROP TABLE clients.users;
DROP TABLE clients.teams;
DROP TABLE clients.organizations;
DROP TABLE clients.regions;
