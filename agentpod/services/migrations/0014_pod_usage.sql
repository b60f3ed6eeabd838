-- A pod's memory and CPU over time: the first health round of each minute keeps one sample per
-- running pod (the dashboard's chart of the last hour, `pod usage`); samples older than the
-- retention are deleted as new ones come. Deleting a pod deletes its samples.
CREATE TABLE pod_usage (
    pod_id       bigint NOT NULL REFERENCES pods(id) ON DELETE CASCADE,
    minute       timestamptz NOT NULL,
    memory_bytes bigint,
    cpu_percent  double precision,
    PRIMARY KEY (pod_id, minute)
);
CREATE INDEX pod_usage_minute_idx ON pod_usage (minute);

ALTER TABLE pod_usage ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON pod_usage USING (pod_id IN (SELECT id FROM pods));
GRANT SELECT ON pod_usage TO agentpod_app;
