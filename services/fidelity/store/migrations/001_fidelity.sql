-- Fidelity scales as versioned data: each version's content is seeded once
-- from the service's embedded files and never changes after (a revision
-- is a new version); reviews keep the version they were requested on.
CREATE TABLE fidelity.scales (
    id         text PRIMARY KEY CHECK (id ~ '^[a-z0-9-]{1,64}$'),
    content    jsonb NOT NULL,
    sha256     bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fidelity.reviews (
    id              uuid PRIMARY KEY,
    team_id         text NOT NULL,
    org_id          text NOT NULL,
    region_id       text NOT NULL,
    scale_id        text NOT NULL REFERENCES fidelity.scales (id),
    period_from     date NOT NULL,
    period_to       date NOT NULL CHECK (period_to > period_from),
    status          text NOT NULL CHECK (status IN ('requested', 'assigned', 'draft', 'final')),
    requested_by    text NOT NULL,
    requested_at    timestamptz NOT NULL DEFAULT now(),
    reviewer_id     text NOT NULL DEFAULT '',
    reviewer_org_id text NOT NULL DEFAULT '',
    scheduled_on    date,
    strengths       text NOT NULL DEFAULT '',
    recommendations text NOT NULL DEFAULT '',
    finalised_at    timestamptz,
    -- Keys the review's stable pseudonyms of sampled clients.
    pseudonym_key   bytea NOT NULL,
    version         bigint NOT NULL DEFAULT 1,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    -- Independence, again at the bottom: never a reviewer of the team's own
    -- organisation.
    CHECK (reviewer_org_id = '' OR reviewer_org_id <> org_id),
    CHECK ((status = 'requested') = (reviewer_id = '')),
    CHECK ((status = 'final') = (finalised_at IS NOT NULL))
);

CREATE INDEX reviews_team ON fidelity.reviews (team_id, requested_at);
CREATE INDEX reviews_reviewer ON fidelity.reviews (reviewer_id) WHERE reviewer_id <> '';
CREATE INDEX reviews_region_final ON fidelity.reviews (region_id, team_id, finalised_at) WHERE status = 'final';

-- Scores: the reviewer's ('review') and the supervisor's self-assessment
-- ('self'), one per item. The total is never stored: it is their sum.
CREATE TABLE fidelity.scores (
    review_id uuid NOT NULL REFERENCES fidelity.reviews (id),
    kind      text NOT NULL CHECK (kind IN ('review', 'self')),
    item_code text NOT NULL,
    score     integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    evidence  text NOT NULL DEFAULT '',
    scored_by text NOT NULL,
    scored_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (review_id, kind, item_code)
);

CREATE TABLE fidelity.comments (
    id         uuid PRIMARY KEY,
    review_id  uuid NOT NULL REFERENCES fidelity.reviews (id),
    item_code  text NOT NULL DEFAULT '',
    text       text NOT NULL CHECK (length(text) BETWEEN 1 AND 4000),
    author_id  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX comments_review ON fidelity.comments (review_id, created_at);

CREATE TABLE fidelity.action_items (
    id        uuid PRIMARY KEY,
    review_id uuid NOT NULL REFERENCES fidelity.reviews (id),
    seq       integer NOT NULL,
    text      text NOT NULL CHECK (length(text) BETWEEN 1 AND 1000),
    owner     text NOT NULL CHECK (length(owner) BETWEEN 1 AND 200),
    due_date  date NOT NULL,
    done_on   date,
    done_by   text NOT NULL DEFAULT '',
    UNIQUE (review_id, seq)
);

CREATE TABLE fidelity.idempotency_keys (
    actor_id     text NOT NULL,
    method       text NOT NULL,
    key          text NOT NULL,
    request_hash bytea NOT NULL,
    resource_id  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (actor_id, method, key)
);

---- create above / drop below ----

DROP TABLE fidelity.idempotency_keys;
DROP TABLE fidelity.action_items;
DROP TABLE fidelity.comments;
DROP TABLE fidelity.scores;
DROP TABLE fidelity.reviews;
DROP TABLE fidelity.scales;
