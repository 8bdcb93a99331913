-- Every service's runtime role calls fidelity.open_review_teams (SECURITY
-- DEFINER, executable by everyone as functions are by default) on its
-- shared request path; usage of the schema lets it. The tables stay the
-- owner's and the fidelity role's. As the funding schema does for
-- funding.parties.
GRANT USAGE ON SCHEMA fidelity TO PUBLIC;

---- create above / drop below ----

REVOKE USAGE ON SCHEMA fidelity FROM PUBLIC;
