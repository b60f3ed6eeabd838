-- A counter of changes to what a pod list shows: every statement that writes pods, their
-- status, configs or tenants advances it. A process that keeps a list it read may answer it
-- again while the counter has not moved (Store.pod_views_json): a list polled by many API
-- clients costs one tiny query instead of the list's. Sequences are not transactional: a
-- writer advances it before it commits; the reader's rule for that is in the store.
CREATE SEQUENCE pod_changes;

CREATE FUNCTION pod_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('pod_changes');
    RETURN NULL;
END $$;

CREATE TRIGGER pods_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pods
    FOR EACH STATEMENT EXECUTE FUNCTION pod_changed();
CREATE TRIGGER pod_status_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pod_status
    FOR EACH STATEMENT EXECUTE FUNCTION pod_changed();
CREATE TRIGGER pod_configs_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON pod_configs
    FOR EACH STATEMENT EXECUTE FUNCTION pod_changed();
CREATE TRIGGER tenants_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tenants
    FOR EACH STATEMENT EXECUTE FUNCTION pod_changed();

GRANT USAGE, SELECT ON SEQUENCE pod_changes TO agentpod_app;
