"""`agentpod install`: a small Ansible-like engine, its modules, and how a run is assembled."""
