-- organization_of also gives the organisation's name, so that a service
-- can name an organisation to a person (e.g. the payer of a benefit in an
-- income calculation) without a call to this service. The return type
-- changes, so the function is dropped and created again.
DROP FUNCTION clients.organization_of(text);

CREATE FUNCTION clients.organization_of(p_org_id text)
RETURNS TABLE (id text, kind text, region_id text, team_ids text[], name text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.id, o.kind, o.region_id,
           ARRAY(SELECT t.id FROM clients.teams t WHERE t.org_id = o.id ORDER BY t.id),
           o.name
    FROM clients.organizations o
    WHERE o.id = p_org_id
$$;

---- create above / drop below ----

DROP FUNCTION clients.organization_of(text);

CREATE FUNCTION clients.organization_of(p_org_id text)
RETURNS TABLE (id text, kind text, region_id text, team_ids text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT o.id, o.kind, o.region_id,
           ARRAY(SELECT t.id FROM clients.teams t WHERE t.org_id = o.id ORDER BY t.id)
    FROM clients.organizations o
    WHERE o.id = p_org_id
$$;
