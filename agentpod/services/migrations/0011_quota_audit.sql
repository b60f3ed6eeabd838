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
