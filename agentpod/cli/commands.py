"""Where every command group is attached to the root; one module per noun."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    from agentpod.cli import (
        access_cmd,
        apikey_cmd,
        audit_cmd,
        backup_cmd,
        config_cmd,
        llm_cmd,
        migrate_cmd,
        node_cmd,
        ops,
        pod,
        system,
        tenant,
        user_cmd,
    )

    root.add_command(tenant.tenant)
    root.add_command(migrate_cmd.migrate)
    root.add_command(pod.pod)
    pod.pod.add_command(access_cmd.open_)
    pod.pod.add_command(access_cmd.token)
    pod.pod.add_command(access_cmd.devices)
    pod.pod.add_command(node_cmd.move)
    for command in backup_cmd.POD_COMMANDS:
        pod.pod.add_command(command)
    root.add_command(backup_cmd.backup)
    root.add_command(config_cmd.config)
    root.add_command(llm_cmd.llm)
    root.add_command(user_cmd.user)
    root.add_command(apikey_cmd.apikey)
    root.add_command(audit_cmd.audit)
    root.add_command(node_cmd.node)
    for command in [*ops.COMMANDS, *system.COMMANDS]:
        root.add_command(command)
