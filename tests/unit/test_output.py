"""The pods table: one aligned line a pod, long cells cut, more columns with --wide."""

from __future__ import annotations

import click

from agentpod.cli.output import pods_table


def row(name: str, image: str = "img:1", **extra: object) -> dict:
    return {
        "ref": f"acme/{name}",
        "adapter": "generic",
        "actual_status": "running",
        "desired_status": "running",
        "ready": True,
        "image": image,
        "url": f"http://acme-{name}.localhost",
        "adopted": False,
        "container_id": "0123456789abcdef",
        "memory_bytes": 50 * 1024 * 1024,
        "cpu_percent": 1.25,
        "last_error": None,
        **extra,
    }


def test_columns_are_aligned_and_long_cells_cut() -> None:
    rows = [row("a"), row("long-name", image="registry.example.com/team/agent:" + "x" * 60)]
    lines = click.unstyle(pods_table(rows)).splitlines()
    assert len(lines) == 3 and lines[0].split() == [
        "POD",
        "TYPE",
        "STATUS",
        "READY",
        "IMAGE",
        "URL",
    ]
    starts = {line.index("http") for line in lines[1:]}
    assert len(starts) == 1  # the URL column starts at one place on every line
    assert max(len(line) for line in lines) < 140
    assert "…" in lines[2]


def test_wide_adds_columns_and_cuts_nothing() -> None:
    long_image = "registry.example.com/team/agent:" + "x" * 60
    text = click.unstyle(pods_table([row("a", image=long_image, last_error="boom")], wide=True))
    header, line = text.splitlines()
    assert header.split()[-4:] == ["CONTAINER", "MEMORY", "CPU%", "ERROR"]
    assert long_image in line and "0123456789ab" in line and "50 MiB" in line and "boom" in line


def test_a_thousand_rows_are_a_thousand_lines() -> None:
    text = pods_table([row(f"p{i}") for i in range(1000)])
    assert len(text.splitlines()) == 1001
