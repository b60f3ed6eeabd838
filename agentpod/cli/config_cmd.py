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
@FORMAT
@click.pass_obj
def get(app: App, ref: str, key: str | None, schema: bool, fmt: str) -> None:
    """Print a pod's config (JSON)."""
    from agentpod.core.adapters import get_adapter
    from agentpod.core.configpath import get_path
    from agentpod.core.names import PodRef

    p = app.ctx.store.get_pod(PodRef.parse(ref))
    if schema:
        app.json(get_adapter(p.adapter).json_schema())
        return
    value = get_path(p.config, key) if key else p.config
    app.json(value)


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
    from agentpod.cli.pod import _apply_and_report, read_config_file, wait_for
    from agentpod.control.llm import refuse_provider_keys
    from agentpod.core.adapters import get_adapter
    from agentpod.core.configpath import parse_value, set_path
    from agentpod.core.names import PodRef

    if bool(file_) == bool(key):
        raise Failure("give either --key KEY --value VALUE or --file FILE", ExitCode.USAGE)
    if key and value is None:
        raise Failure("--key needs --value", ExitCode.USAGE)
    ctx = app.ctx
    p = ctx.store.get_pod(PodRef.parse(ref))
    if file_:
        new = read_config_file(file_)
    else:
        new = set_path(p.config, key or "", parse_value(value or ""))
    get_adapter(p.adapter).validate_config(new)
    refuse_provider_keys(new)
    if new == p.config:
        app.ok(f"{p.ref} config unchanged (version {p.config_version})")
        return
    p = ctx.store.set_config(p, new)
    app.ok(f"{p.ref} config version {p.config_version}")
    _apply_and_report(app, [p])
    if wait:
        wait_for(app, [p], None)
