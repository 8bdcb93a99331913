-- The teams whose records a fidelity reviewer may sample now: those of the
-- open reviews (assigned or draft) assigned to them. Part of this schema's
-- contract with the shared request path (internal/access), which gives
-- such a reviewer the "review" relation to the team's clients; once a
-- review is final it is gone, and so is the access.
CREATE FUNCTION fidelity.open_review_teams(p_reviewer_id text)
RETURNS TABLE (team_id text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT DISTINCT r.team_id FROM fidelity.reviews r
    WHERE r.reviewer_id = p_reviewer_id AND r.status IN ('assigned', 'draft')
$$;

---- create above / drop below ----

DROP FUNCTION fidelity.open_review_teams(text);
