-- A directory user as another service needs to know them (the fidelity
-- service checks that a reviewer is not of the reviewed organisation):
-- organisation and role, nothing else. Part of this schema's contract.
CREATE FUNCTION clients.user_of(p_user_id text)
RETURNS TABLE (id text, org_id text, role text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT u.id, u.org_id, u.role FROM clients.users u WHERE u.id = p_user_id
$$;

---- create above / drop below ----

DROP FUNCTION clients.user_of(text);
