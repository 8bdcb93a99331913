-- Enrolling a BSN must not tell a specialist whether the person is already a
-- client of a team the specialist may not see (issue 14). The BSN is no
-- longer unique per MHA: an enrolment that matches only clients the caller
-- may not see succeeds like any other, and the match is recorded here for
-- the MHA to resolve (and in the existing client's access history, which
-- its own team reads). A match with a client the caller may see is still
-- refused, checked by the service under an advisory lock per MHA and BSN.
DROP INDEX clients.identities_bsn_per_mha;
CREATE INDEX identities_bsn ON clients.identities (mha_org_id, bsn) WHERE bsn <> '';

CREATE TABLE clients.possible_duplicates (
    client_id       uuid        NOT NULL REFERENCES clients.clients (id) ON DELETE CASCADE,
    other_client_id uuid        NOT NULL REFERENCES clients.clients (id) ON DELETE CASCADE,
    found_by        text        NOT NULL,
    found_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_id, other_client_id)
);

---- create above / drop below ----

DROP TABLE clients.possible_duplicates;
DROP INDEX clients.identities_bsn;
CREATE UNIQUE INDEX identities_bsn_per_mha ON clients.identities (mha_org_id, bsn) WHERE bsn <> '';
