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
