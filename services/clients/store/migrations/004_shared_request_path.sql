-- The directory and the access facts, as every service's shared request
-- path (internal/access) reads them: this schema's contract with the other
-- services, so that each decides access itself from the same facts, in one
-- statement per request or page of clients, without a call to this service.
-- EXECUTE is all another service's role needs.

-- access_facts runs on every request of every service now: as plpgsql its
-- query's plan is cached per session, where the SQL function (SECURITY
-- DEFINER, so never inlined) planned it again on each call, about four
-- times the cost of the query itself.
CREATE OR REPLACE FUNCTION clients.access_facts(p_client_ids text[], p_org_id text)
RETURNS TABLE (client_id text, mha_org_id text, region_id text, team_id text, specialist_id text,
               involved_org_ids text[], consented_sections text[])
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT c.id::text, c.mha_org_id, c.region_id, t.team_id, t.specialist_id,
           ARRAY(SELECT o.org_id FROM clients.trajectory_organizations o WHERE o.client_id = c.id ORDER BY o.org_id),
           ARRAY(SELECT k.section FROM clients.consents k
                 WHERE k.client_id = c.id AND k.org_id = p_org_id AND k.revoked_at IS NULL ORDER BY k.section)
    FROM clients.clients c JOIN clients.trajectories t ON t.client_id = c.id
    WHERE c.id = ANY (p_client_ids::uuid[]);
END
$$;

-- An organisation as the policy sees a caller of it.
CREATE FUNCTION clients.organization_of(p_org_id text)
RETURNS TABLE (id text, kind text, region_id text, team_ids text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.id, o.kind, o.region_id,
           ARRAY(SELECT t.id FROM clients.teams t WHERE t.org_id = o.id ORDER BY t.id)
    FROM clients.organizations o
    WHERE o.id = p_org_id
$$;

-- access_facts inside a write's transaction: the trajectories are locked,
-- exclusively for the clients service's own writes of them, shared for
-- other services' writes, so that team, specialist and involved
-- organisations cannot change between the decision and the commit.
CREATE FUNCTION clients.lock_access_facts(p_client_ids text[], p_org_id text, p_exclusive boolean)
RETURNS TABLE (client_id text, mha_org_id text, region_id text, team_id text, specialist_id text,
               involved_org_ids text[], consented_sections text[])
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_exclusive THEN
        PERFORM 1 FROM clients.trajectories t WHERE t.client_id = ANY (p_client_ids::uuid[])
            ORDER BY t.client_id FOR UPDATE;
    ELSE
        PERFORM 1 FROM clients.trajectories t WHERE t.client_id = ANY (p_client_ids::uuid[])
            ORDER BY t.client_id FOR SHARE;
    END IF;
    RETURN QUERY SELECT * FROM clients.access_facts(p_client_ids, p_org_id);
END
$$;

---- create above / drop below ----

DROP FUNCTION clients.lock_access_facts(text[], text, boolean);
DROP FUNCTION clients.organization_of(text);
CREATE OR REPLACE FUNCTION clients.access_facts(p_client_ids text[], p_org_id text)
RETURNS TABLE (client_id text, mha_org_id text, region_id text, team_id text, specialist_id text,
               involved_org_ids text[], consented_sections text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.id::text, c.mha_org_id, c.region_id, t.team_id, t.specialist_id,
           ARRAY(SELECT o.org_id FROM clients.trajectory_organizations o WHERE o.client_id = c.id ORDER BY o.org_id),
           ARRAY(SELECT k.section FROM clients.consents k
                 WHERE k.client_id = c.id AND k.org_id = p_org_id AND k.revoked_at IS NULL ORDER BY k.section)
    FROM clients.clients c JOIN clients.trajectories t ON t.client_id = c.id
    WHERE c.id = ANY (p_client_ids::uuid[])
$$;
