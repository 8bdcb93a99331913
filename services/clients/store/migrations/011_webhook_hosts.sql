-- The hosts an organisation has registered for its partner systems' webhook
-- endpoints (issue 14): a subscription that carries data (include_data) may
-- only point at one of them, so an org_admin cannot send what the
-- organisation's partner system may read to an arbitrary URL. An entry is a
-- host name or address, or "*.example.org" for its subdomains.
ALTER TABLE clients.organizations ADD COLUMN webhook_hosts text[] NOT NULL DEFAULT '{}';

-- For the events service and the dispatcher, like organization_of.
CREATE FUNCTION clients.webhook_hosts_of(p_org_id text)
RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT o.webhook_hosts FROM clients.organizations o WHERE o.id = p_org_id), '{}')
$$;

---- create above / drop below ----

DROP FUNCTION clients.webhook_hosts_of(text);
ALTER TABLE clients.organizations DROP COLUMN webhook_hosts;
