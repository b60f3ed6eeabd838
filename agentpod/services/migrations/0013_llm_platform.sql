-- Platform-wide LLM providers (tenant_id NULL, names unique among them) that admins share with
-- chosen tenants. A tenant's own provider of the same name wins over a shared one.
ALTER TABLE llm_providers ALTER COLUMN tenant_id DROP NOT NULL;
CREATE UNIQUE INDEX llm_providers_platform_name ON llm_providers (name) WHERE tenant_id IS NULL;

CREATE TABLE llm_provider_shares (
    provider_id bigint NOT NULL REFERENCES llm_providers(id) ON DELETE CASCADE,
    tenant_id   bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    PRIMARY KEY (provider_id, tenant_id)
);

-- row-level security: a caller sees the shares of its tenants, and a platform provider only
-- when it is shared with one of them (its key stays sealed either way)
ALTER TABLE llm_provider_shares ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON llm_provider_shares
    USING (tenant_id IN (SELECT id FROM tenants));
DROP POLICY tenant_isolation ON llm_providers;
CREATE POLICY tenant_isolation ON llm_providers
    USING (tenant_id IN (SELECT id FROM tenants)
           OR id IN (SELECT provider_id FROM llm_provider_shares));
GRANT SELECT, INSERT, UPDATE, DELETE ON llm_provider_shares TO agentpod_app;
