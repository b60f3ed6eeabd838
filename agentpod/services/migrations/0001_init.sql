CREATE TABLE meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO meta (key, value) VALUES ('instance_id', substr(md5(random()::text || clock_timestamp()::text), 1, 12));

CREATE TABLE tenants (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    settings   jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pods (
    id                   bigserial PRIMARY KEY,
    tenant_id            bigint NOT NULL REFERENCES tenants(id),
    name                 text NOT NULL,
    resource_key         text NOT NULL UNIQUE,
    adapter              text NOT NULL,
    subdomain            text NOT NULL UNIQUE,
    desired_status       text NOT NULL CHECK (desired_status IN ('running', 'stopped', 'deleted')),
    image                text NOT NULL,
    memory_mb            integer NOT NULL,
    cpus                 double precision NOT NULL,
    pids_limit           integer NOT NULL,
    gateway_token        text NOT NULL,
    keep_data            boolean NOT NULL DEFAULT false,
    adopted_container_id text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, name)
);

CREATE TABLE pod_configs (
    pod_id     bigint PRIMARY KEY REFERENCES pods(id) ON DELETE CASCADE,
    config     jsonb NOT NULL DEFAULT '{}'::jsonb,
    version    integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pod_status (
    pod_id          bigint PRIMARY KEY REFERENCES pods(id) ON DELETE CASCADE,
    actual_status   text NOT NULL DEFAULT 'pending',
    container_id    text,
    spec_hash       text,
    ready           boolean NOT NULL DEFAULT false,
    health_message  text,
    last_health_at  timestamptz,
    memory_bytes    bigint,
    cpu_percent     double precision,
    last_error      text,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE events (
    id      bigserial PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    tenant  text,
    pod     text,
    pod_id  bigint,
    type    text NOT NULL,
    message text NOT NULL,
    data    jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX events_pod_idx ON events (tenant, pod, id);
