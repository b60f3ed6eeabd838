-- Adopted containers: where their data lives (bind path or volume, kept on delete), and the
-- hand-deployed container a converted pod replaces on its first AgentPod-style recreate.
ALTER TABLE pods ADD COLUMN data_source jsonb;
ALTER TABLE pods ADD COLUMN replaces_container_id text;
