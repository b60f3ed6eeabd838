-- A pod's own swarm pool (node labels, e.g. "ssd=true,zone=eu"), over its tenant's (which lives
-- in tenants.settings). Placement reads it when a pod's service is made or moved.
ALTER TABLE pods ADD COLUMN pool text;
