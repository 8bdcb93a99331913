-- Benefit situations as the paying organisation reported them.
CREATE TABLE benefits.benefits (
    id                   uuid PRIMARY KEY,
    client_id            uuid NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('wia_wga', 'wia_iva', 'wajong', 'ww', 'participatiewet', 'supplement')),
    payer_org_id         text NOT NULL,
    monthly_amount_cents bigint NOT NULL CHECK (monthly_amount_cents BETWEEN 0 AND 10000000),
    start_date           date NOT NULL,
    end_date             date CHECK (end_date > start_date),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'ended')),
    version              bigint NOT NULL DEFAULT 1,
    created_at           timestamptz NOT NULL DEFAULT now(),
    created_by           text NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now(),
    updated_by           text NOT NULL
);

CREATE INDEX benefits_client ON benefits.benefits (client_id, created_at);

-- Decisions partner systems reported; immutable.
CREATE TABLE benefits.decisions (
    id                   uuid PRIMARY KEY,
    benefit_id           uuid NOT NULL REFERENCES benefits.benefits (id),
    client_id            uuid NOT NULL,
    org_id               text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('adjusted', 'suspended', 'ended')),
    effective_date       date NOT NULL,
    monthly_amount_cents bigint NOT NULL CHECK (monthly_amount_cents BETWEEN 0 AND 10000000),
    reason               text NOT NULL DEFAULT '',
    reported_by          text NOT NULL,
    received_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX decisions_benefit ON benefits.decisions (benefit_id, received_at);

-- Idempotency keys per organisation and method, with the stored response:
-- a retry returns the first answer.
CREATE TABLE benefits.idempotency_keys (
    org_id       text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, method, key)
);

CREATE TABLE benefits.counselling_requests (
    id            uuid PRIMARY KEY,
    client_id     uuid NOT NULL,
    reason        text NOT NULL DEFAULT '',
    counsellor_id text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    requested_by  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz
);

CREATE INDEX counselling_requests_client ON benefits.counselling_requests (client_id, created_at);
CREATE INDEX counselling_requests_open ON benefits.counselling_requests (counsellor_id, created_at) WHERE status = 'open';

CREATE TABLE benefits.counselling_sessions (
    id            uuid PRIMARY KEY,
    request_id    uuid NOT NULL REFERENCES benefits.counselling_requests (id),
    client_id     uuid NOT NULL,
    counsellor_id text NOT NULL,
    session_date  date NOT NULL,
    notes         text NOT NULL DEFAULT '',
    outcome       text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX counselling_sessions_request ON benefits.counselling_sessions (request_id, created_at);

CREATE TABLE benefits.job_changes (
    id                uuid PRIMARY KEY,
    client_id         uuid NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('started', 'hours_changed', 'wage_changed')),
    effective_date    date NOT NULL,
    hours_per_week    integer NOT NULL CHECK (hours_per_week BETWEEN 0 AND 60),
    hourly_wage_cents bigint NOT NULL CHECK (hourly_wage_cents >= 0),
    reported_by       text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

-- Written by the table notifier in the job change's transaction.
CREATE TABLE benefits.counsellor_tasks (
    id            uuid PRIMARY KEY,
    client_id     uuid NOT NULL,
    counsellor_id text NOT NULL DEFAULT '',
    job_change_id uuid NOT NULL REFERENCES benefits.job_changes (id),
    description   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX counsellor_tasks_counsellor ON benefits.counsellor_tasks (counsellor_id, created_at);

CREATE TABLE benefits.payer_notices (
    id            uuid PRIMARY KEY,
    client_id     uuid NOT NULL,
    org_id        text NOT NULL,
    benefit_id    uuid NOT NULL REFERENCES benefits.benefits (id),
    job_change_id uuid NOT NULL REFERENCES benefits.job_changes (id),
    description   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX payer_notices_org ON benefits.payer_notices (org_id, created_at);

---- create above / drop below ----

DROP TABLE benefits.payer_notices;
DROP TABLE benefits.counsellor_tasks;
DROP TABLE benefits.job_changes;
DROP TABLE benefits.counselling_sessions;
DROP TABLE benefits.counselling_requests;
DROP TABLE benefits.idempotency_keys;
DROP TABLE benefits.decisions;
DROP TABLE benefits.benefits;
