-- Funding agreements, trajectory applications and claims. Clients and
-- organisations live in the clients service; client_id and the
-- organisation ids refer to them by value.

CREATE TABLE funding.agreements (
    id                   uuid PRIMARY KEY,
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    funder_org_id        text NOT NULL,
    mha_org_id           text NOT NULL,
    region_id            text NOT NULL,
    valid_from           date NOT NULL,
    valid_until          date NOT NULL CHECK (valid_until > valid_from),
    budget_trajectories  integer NOT NULL CHECK (budget_trajectories > 0),
    budget_cents         bigint NOT NULL CHECK (budget_cents > 0),
    target_groups        text[] NOT NULL,
    funded_months        integer NOT NULL CHECK (funded_months IN (24, 36)),
    max_extension_months integer NOT NULL CHECK (max_extension_months BETWEEN 0 AND 12),
    advance_percent      integer NOT NULL CHECK (advance_percent BETWEEN 0 AND 100),
    min_fidelity_band    text NOT NULL DEFAULT '',
    -- The fee schedules with their validity dates: data, not code.
    schedules            jsonb NOT NULL,
    version              bigint NOT NULL DEFAULT 1,
    created_by           text NOT NULL,
    updated_by           text NOT NULL,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agreements_funder ON funding.agreements (funder_org_id);
CREATE INDEX agreements_mha ON funding.agreements (mha_org_id);

CREATE TABLE funding.applications (
    id               uuid PRIMARY KEY,
    agreement_id     uuid NOT NULL REFERENCES funding.agreements (id),
    client_id        uuid NOT NULL,
    state            text NOT NULL CHECK (state IN ('draft', 'signed', 'submitted', 'approved', 'refused', 'running', 'stopped', 'ended', 'determined')),
    target_group     text NOT NULL,
    created_by       text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    client_signed_by text NOT NULL DEFAULT '',
    client_signed_on date,
    mha_signed_by    text NOT NULL DEFAULT '',
    mha_signed_on    date,
    submitted_on     date,
    decided_by       text NOT NULL DEFAULT '',
    decision_on      date,
    decision_reason  text NOT NULL DEFAULT '',
    funded_until     date,
    running_since    date,
    stop_on          date,
    stop_reason      text NOT NULL DEFAULT '',
    end_on           date,
    end_report       text NOT NULL DEFAULT '',
    determined_on    date,
    determined_cents bigint NOT NULL DEFAULT 0,
    version          bigint NOT NULL DEFAULT 1,
    updated_by       text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One live application per client and agreement.
CREATE UNIQUE INDEX applications_live ON funding.applications (agreement_id, client_id)
    WHERE state NOT IN ('refused', 'determined');
CREATE INDEX applications_client ON funding.applications (client_id);

CREATE TABLE funding.claims (
    id           uuid PRIMARY KEY,
    agreement_id uuid NOT NULL REFERENCES funding.agreements (id),
    period_end   date NOT NULL,
    state        text NOT NULL CHECK (state IN ('draft', 'submitted', 'decided', 'paid')),
    submitted_on date,
    paid_on      date,
    created_by   text NOT NULL,
    version      bigint NOT NULL DEFAULT 1,
    updated_by   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- One draft at a time per agreement, so that two drafts never claim the
-- same part.
CREATE UNIQUE INDEX claims_one_draft ON funding.claims (agreement_id) WHERE state = 'draft';

-- A line is never rewritten once its claim is submitted; only its decision
-- is recorded. A correction is a new line in a later claim.
CREATE TABLE funding.claim_lines (
    id              uuid PRIMARY KEY,
    claim_id        uuid NOT NULL REFERENCES funding.claims (id),
    position        integer NOT NULL,
    application_id  uuid NOT NULL REFERENCES funding.applications (id),
    client_id       uuid NOT NULL,
    part_id         text NOT NULL,
    part_name       text NOT NULL,
    condition       text NOT NULL,
    earned_on       date NOT NULL,
    amount_cents    bigint NOT NULL CHECK (amount_cents <> 0),
    credits_line_id uuid REFERENCES funding.claim_lines (id),
    hours_band      text NOT NULL DEFAULT '',
    placement_id    text NOT NULL DEFAULT '',
    employer_name   text NOT NULL DEFAULT '',
    job_title       text NOT NULL DEFAULT '',
    state           text NOT NULL CHECK (state IN ('pending', 'approved', 'rejected', 'credited')),
    decision_reason text NOT NULL DEFAULT '',
    decided_by      text NOT NULL DEFAULT '',
    decided_at      timestamptz,
    UNIQUE (claim_id, position),
    CHECK ((amount_cents < 0) = (credits_line_id IS NOT NULL))
);
CREATE INDEX claim_lines_application ON funding.claim_lines (application_id);
-- A charge is credited at most once.
CREATE UNIQUE INDEX claim_lines_credit_once ON funding.claim_lines (credits_line_id) WHERE credits_line_id IS NOT NULL;

CREATE TABLE funding.idempotency_keys (
    actor_id     text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  text NOT NULL DEFAULT '',
    -- The first answer, where it cannot be read back (internal/idempotency).
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, method, key)
);

-- The funding parties of clients, for every service's shared request path
-- (internal/access, the funded relation): the MHA of an agreement under
-- which the client has an application, from the draft on; its funder from
-- the submission on (a refusal included: the funder keeps reading its own
-- decision). This schema's contract with the other services; EXECUTE is all
-- their roles need.
CREATE FUNCTION funding.parties(p_client_ids text[])
RETURNS TABLE (client_id text, org_ids text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT p.client_id::text, array_agg(DISTINCT p.org_id ORDER BY p.org_id)
    FROM (
        SELECT ap.client_id, ag.mha_org_id AS org_id
        FROM funding.applications ap JOIN funding.agreements ag ON ag.id = ap.agreement_id
        WHERE ap.client_id = ANY (p_client_ids::uuid[])
        UNION ALL
        SELECT ap.client_id, ag.funder_org_id
        FROM funding.applications ap JOIN funding.agreements ag ON ag.id = ap.agreement_id
        WHERE ap.client_id = ANY (p_client_ids::uuid[])
          AND ap.state NOT IN ('draft', 'signed')
    ) p
    GROUP BY p.client_id;
END
$$;

-- Every service's runtime role calls funding.parties (SECURITY DEFINER,
-- executable by everyone as functions are by default); usage of the schema
-- lets it. The tables stay the owner's and the funding role's.
GRANT USAGE ON SCHEMA funding TO PUBLIC;

---- create above / drop below ----

DROP FUNCTION funding.parties(text[]);
DROP TABLE funding.idempotency_keys;
DROP TABLE funding.claim_lines;
DROP TABLE funding.claims;
DROP TABLE funding.applications;
DROP TABLE funding.agreements;
