"""AgentPod: a control plane that runs AI agents for many tenants on one machine."""

__version__ = "0.1.0"
