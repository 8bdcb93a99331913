-- A caller's role and teams come from the directory, not from the token
-- alone (issue 14): a user removed from the directory, moved to another
-- organisation or team, or given another role loses what the token still
-- claims within the services' directory cache period. Published like
-- organization_of, for every service's request path.
CREATE FUNCTION clients.user_of(p_user_id text)
RETURNS TABLE (id text, org_id text, role text, team_ids text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id, u.org_id, u.role,
           ARRAY(SELECT m.team_id FROM clients.team_members m WHERE m.user_id = u.id ORDER BY m.team_id)
    FROM clients.users u
    WHERE u.id = p_user_id
$$;

---- create above / drop below ----

DROP FUNCTION clients.user_of(text);
