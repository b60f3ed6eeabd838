"""``agentpod config``: read and change a pod's config (validated against its type's schema)."""

from __future__ import annotations

import click

from agentpod.cli.app import FORMAT, App, ExitCode, Failure


@click.group()
def config() -> None:
    """Read and change a pod's config."""


@config.command("get")
@click.argument("ref")
@click.option("--key", help="Only this dot path.")
@click.option("--schema", is_flag=True, help="Print the agent type's JSON Schema instead.")
@click.option("--reveal", is_flag=True, help="Show secret fields in clear (audited).")
@FORMAT
@click.pass_obj
def get(app: App, ref: str, key: str | None, schema: bool, reveal: bool, fmt: str) -> None:
    """Print a pod's config (JSON; secret fields masked unless --reveal)."""
    from agentpod.control import pod_config

    if schema:
        app.json(pod_config.schema(app.ctx, app.caller, ref))
        return
    app.json(pod_config.get(app.ctx, app.caller, ref, key, reveal))


@config.command("set")
@click.argument("ref")
@click.option("--key", help="Dot path, e.g. env.LOG_LEVEL.")
@click.option("--value", help="JSON value (a bare word is a string).")
@click.option("--file", "file_", help="Replace the whole config with this JSON file.")
@click.option("--wait/--no-wait", default=False, help="Wait until the pod is healthy again.")
@click.pass_obj
def set_(
    app: App, ref: str, key: str | None, value: str | None, file_: str | None, wait: bool
) -> None:
    """Change a pod's config; the pod is recreated with it (data kept)."""
    from agentpod.cli.pod import read_config_file, report, wait_for
    from agentpod.control import pod_config

    if bool(file_) == bool(key):
        raise Failure("give either --key KEY --value VALUE or --file FILE", ExitCode.USAGE)
    if key and value is None:
        raise Failure("--key needs --value", ExitCode.USAGE)
    if file_:
        done = pod_config.replace(app.ctx, app.caller, ref, read_config_file(file_))
    else:
        done = pod_config.set_key(app.ctx, app.caller, ref, key or "", value or "")
    p = done.pod
    if not done.changed:
        app.ok(f"{p.ref} config unchanged (version {p.config_version})")
        return
    app.ok(f"{p.ref} config version {p.config_version}")
    report(app, done)
    if wait:
        wait_for(app, [p], None)
