"""Messages that interpolate text (names, paths, errors, hints) print as they are: rich never takes
``[brackets]`` in them for markup. Through the real CLI, in a subprocess."""

from __future__ import annotations

import io

from tests.conftest import Env


def test_an_error_keeps_its_brackets(agentpod_env: Env) -> None:
    proc = agentpod_env.run("tenant", "create", "bad[proxy]", check=False)
    assert proc.returncode == 2
    assert "'bad[proxy]' is not a DNS label" in proc.stderr


def test_a_hint_with_brackets_and_a_path_with_brackets(agentpod_env: Env) -> None:
    missing = "/tmp/no[proxy]/traefik"
    proc = agentpod_env.run(
        "serve", "--with-proxy", env={"AGENTPOD_TRAEFIK_BIN": missing}, check=False, timeout=60
    )
    assert proc.returncode == 1, proc.stderr
    assert f"AGENTPOD_TRAEFIK_BIN={missing} is not an executable file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_image_is_refused_with_its_brackets_and_no_pod(
    agentpod_env: Env, tenant: str
) -> None:
    agentpod_env.run("tenant", "create", tenant)
    proc = agentpod_env.run(
        "pod", "create", f"{tenant}/web", "--type", "generic", "--image", "img:[red]x", check=False
    )
    assert proc.returncode == 2
    assert "image 'img:[red]x' is not a valid image reference" in proc.stderr
    assert agentpod_env.json("pod", "list", "--tenant", tenant) == []


def test_table_cells_keep_their_brackets() -> None:
    from rich.console import Console

    from agentpod.cli.output import events_table

    row = {"at": "2026-12-02 01:00:00", "pod": "acme/web", "type": "error", "message": "[red]x [b]"}
    console = Console(file=io.StringIO(), width=200)
    console.print(events_table([row]))
    assert "[red]x [b]" in console.file.getvalue()


def test_a_pool_on_one_engine_is_refused_and_nothing_is_made(
    agentpod_env: Env, tenant: str
) -> None:
    """Pools are swarm node labels: on a single-engine install every way to set one is a
    one-line refusal that leaves nothing behind; clearing one is harmless."""
    refused = agentpod_env.run("tenant", "create", tenant, "--pool", "zone=eu", check=False)
    assert refused.returncode == 2
    assert "a pool is a set of swarm node labels: this install runs one engine" in refused.stderr
    assert tenant not in {t["name"] for t in agentpod_env.json("tenant", "list")}

    agentpod_env.run("tenant", "create", tenant)
    for argv in (
        ("tenant", "set", tenant, "--pool", "zone=eu"),
        ("pod", "create", f"{tenant}/web", "--type", "generic", "--image", "x:1", "--pool", "eu"),
    ):
        proc = agentpod_env.run(*argv, check=False)
        assert (proc.returncode, proc.stderr.count("\n")) == (2, 1), proc.stderr
        assert "this install runs one engine (runtime = docker)" in proc.stderr
    assert agentpod_env.json("pod", "list", "--tenant", tenant) == []
    assert agentpod_env.json("tenant", "status", tenant)["settings"]["pool"] is None
    cleared = agentpod_env.run("tenant", "set", tenant, "--clear", "pool")
    assert f"tenant {tenant} unchanged" in cleared.stderr
