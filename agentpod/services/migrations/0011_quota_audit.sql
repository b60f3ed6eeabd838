-- Per-tenant quotas (NULL: unlimited) and the audit log of every write use case: who (the
-- caller's actor), what, on which object, from where, and how it ended (with the one-line
-- reason of a refusal or failure). No secret is ever written here.
ALTER TABLE tenants
    ADD COLUMN max_pods      integer CHECK (max_pods >= 0),
    ADD COLUMN max_memory_mb integer CHECK (max_memory_mb >= 0),
    ADD COLUMN max_cpus      double precision CHECK (max_cpus >= 0);

CREATE TABLE audit_log (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    actor   text NOT NULL,
    action  text NOT NULL,
    target  text NOT NULL DEFAULT '',
    tenant  text,
    address text,
    outcome text NOT NULL CHECK (outcome IN ('ok', 'refused', 'failed')),
    reason  text
);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant, id);

-- Tenant isolation in the database too (row-level security). AgentPod's own connection owns
-- the tables and bypasses it: serve, the reconciler and the root CLI see every row. A caller's
-- reads run as the non-owner role agentpod_app (SET LOCAL ROLE, in a transaction) with the
-- tenants it sees in the setting agentpod.tenants (comma-separated; '*': all): a query written
-- wrongly there still reads and writes those tenants' rows only. An external database's user
-- needs CREATEROLE for this migration (or create agentpod_app and grant it to that user first).
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'agentpod_app') THEN
        CREATE ROLE agentpod_app NOLOGIN;
    END IF;
    IF NOT pg_has_role(current_user, 'agentpod_app', 'MEMBER') THEN
        EXECUTE format('GRANT agentpod_app TO %I', current_user);
    END IF;
END $$;

CREATE FUNCTION agentpod_sees(tenant text) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT current_setting('agentpod.tenants', true) = '*'
        OR tenant = ANY (string_to_array(current_setting('agentpod.tenants', true), ','))
$$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants USING (agentpod_sees(name));
ALTER TABLE pods ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pods USING (tenant_id IN (SELECT id FROM tenants));
ALTER TABLE pod_configs ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pod_configs USING (pod_id IN (SELECT id FROM pods));
ALTER TABLE pod_status ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pod_status USING (pod_id IN (SELECT id FROM pods));
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON events USING (agentpod_sees(tenant));
ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_log USING (agentpod_sees(tenant));
ALTER TABLE llm_providers ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_providers USING (tenant_id IN (SELECT id FROM tenants));
ALTER TABLE llm_budgets ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_budgets USING (tenant_id IN (SELECT id FROM tenants));
ALTER TABLE llm_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_usage USING (agentpod_sees(tenant));

GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, pods, pod_configs, pod_status, events,
    audit_log, llm_providers, llm_budgets, llm_usage TO agentpod_app;
GRANT SELECT ON meta, llm_prices TO agentpod_app;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO agentpod_app;
