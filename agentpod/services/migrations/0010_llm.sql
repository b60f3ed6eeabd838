-- The LLM gateway: providers per tenant (key sealed like pod tokens; the last four characters
-- kept apart for listings), usage per request, budgets per tenant or pod, and a price table.
CREATE TABLE llm_providers (
    id         bigserial PRIMARY KEY,
    tenant_id  bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('openai', 'anthropic')),
    base_url   text NOT NULL,
    api_key    text NOT NULL,
    key_hint   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE llm_usage (
    id            bigserial PRIMARY KEY,
    at            timestamptz NOT NULL,
    tenant        text NOT NULL,
    pod           text NOT NULL,
    pod_id        bigint,
    provider      text NOT NULL,
    model         text NOT NULL DEFAULT '',
    status        integer NOT NULL,
    input_tokens  bigint NOT NULL DEFAULT 0,
    output_tokens bigint NOT NULL DEFAULT 0,
    cached_tokens bigint NOT NULL DEFAULT 0,
    latency_ms    double precision,
    ttft_ms       double precision,
    cost_usd      double precision NOT NULL DEFAULT 0
);
CREATE INDEX llm_usage_tenant_idx ON llm_usage (tenant, at);

-- pod = '' is the tenant-wide budget; NULL limits are unset
CREATE TABLE llm_budgets (
    tenant_id           bigint NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    pod                 text NOT NULL DEFAULT '',
    requests_per_minute integer,
    tokens_per_minute   integer,
    daily_usd           double precision,
    monthly_usd         double precision,
    PRIMARY KEY (tenant_id, pod)
);

CREATE TABLE llm_prices (
    model             text PRIMARY KEY,
    input_usd_per_mt  double precision NOT NULL,
    output_usd_per_mt double precision NOT NULL
);
