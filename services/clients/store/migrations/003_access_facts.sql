-- What the policy needs to know of clients for one organisation: the same
-- facts Store.Facts gives the API, for several clients at once. The events
-- dispatcher calls it when it decides, at delivery time, what an event may
-- carry to a subscriber's organisation; it is this schema's contract with
-- the dispatcher (EXECUTE is all the dispatcher's role needs), so the
-- clients service stays the only owner of trajectories and consents.
CREATE FUNCTION clients.access_facts(p_client_ids text[], p_org_id text)
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

---- create above / drop below ----

DROP FUNCTION clients.access_facts(text[], text);
