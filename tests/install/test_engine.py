"""The install engine, table-driven, in a temporary root (no privileges, no systemd): check mode
changes nothing, a second run changes nothing, a changed template shows its diff and runs its
handler once, a failing task stops the run with a clear message."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from agentpod.install.engine import (
    Action,
    Engine,
    Plan,
    Playbook,
    PlaybookError,
    Status,
    Summary,
    TaskFailed,
    render_value,
)
from agentpod.install.modules import MODULES, Host

FILE_MODULES = {k: MODULES[k] for k in ("directory", "template", "copy", "absent")}


class Recorder:
    """A handler module that counts its runs."""

    def __init__(self) -> None:
        self.runs: list[str] = []

    def __call__(self, args: Mapping[str, Any], host: Host) -> Plan:
        return Plan.of(Action(f"handle {args['what']}", lambda: self.runs.append(args["what"])))


def fail(args: Mapping[str, Any], host: Host) -> Plan:
    if args.get("when") == "plan":
        raise TaskFailed(args["message"])

    def boom() -> None:
        raise TaskFailed(args["message"])

    return Plan.of(Action("do the impossible", boom))


PLAYBOOK = {
    "tasks": [
        {"name": "etc dir", "module": "directory", "args": {"path": "/etc/app", "mode": "0750"}},
        {
            "name": "config",
            "module": "template",
            "args": {"src": "app.conf.j2", "dest": "/etc/app/app.conf", "mode": "0640"},
            "notify": ["reload"],
        },
        {
            "name": "unit",
            "module": "template",
            "args": {"src": "app.service.j2", "dest": "/etc/app/app.service"},
            "notify": ["reload", "restart"],
        },
        {
            "name": "binary",
            "module": "copy",
            "args": {"src": "{{ src_bin }}", "dest": "/usr/bin/app", "mode": "0755"},
        },
        {"name": "old file", "module": "absent", "args": {"path": "/etc/app/old.conf"}},
        {
            "name": "only with tls",
            "module": "directory",
            "args": {"path": "/etc/app/tls"},
            "when": "tls",
        },
    ],
    "handlers": [
        {"name": "reload", "module": "recorder", "args": {"what": "reload"}},
        {"name": "restart", "module": "recorder", "args": {"what": "restart"}},
    ],
}


@pytest.fixture
def world(tmp_path: Path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "app.conf.j2").write_text("port = {{ port }}\nname = {{ name }}\n")
    (templates / "app.service.j2").write_text("[Service]\nExecStart=/usr/bin/app\n")
    src_bin = tmp_path / "app.bin"
    src_bin.write_bytes(b"\x7fELF fake binary")
    root = tmp_path / "root"
    (root / "usr/bin").mkdir(parents=True)

    def run(
        *, check: bool = False, playbook: Mapping[str, Any] = PLAYBOOK, **overrides: Any
    ) -> tuple[Summary, Recorder]:
        variables = {
            "port": 8080,
            "name": "app",
            "tls": False,
            "src_bin": str(src_bin),
            **overrides,
        }
        recorder = Recorder()
        modules = {**FILE_MODULES, "recorder": recorder, "fail": fail}
        host = Host(templates=templates, variables=variables, root=root)
        engine = Engine(modules, host, variables, check=check)
        return engine.run(Playbook.from_dict(playbook)), recorder

    return root, templates, run


def statuses(summary: Summary) -> dict[str, str]:
    return {r.task: r.status.value for r in summary.results}


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    out = {}
    for path in sorted(root.rglob("*")):
        data = path.read_bytes() if path.is_file() else b""
        out[str(path.relative_to(root))] = (path.stat().st_mode, data)
    return out


def test_check_mode_changes_nothing_and_reports_what_would(world):
    root, _, run = world
    before = snapshot(root)
    summary, recorder = run(check=True)
    assert snapshot(root) == before
    assert recorder.runs == []  # handlers are planned, not run
    assert statuses(summary) == {
        "etc dir": "changed",
        "config": "changed",
        "unit": "changed",
        "binary": "changed",
        "old file": "ok",
        "only with tls": "skipped",
        "reload": "changed",
        "restart": "changed",
    }
    assert summary.line() == "ok=1 changed=6 failed=0 skipped=1"


def test_first_run_applies_second_run_changes_nothing(world):
    root, _, run = world
    first, recorder = run()
    assert not first.failed
    assert (root / "etc/app/app.conf").read_text() == "port = 8080\nname = app\n"
    assert (root / "etc/app/app.conf").stat().st_mode & 0o777 == 0o640
    assert (root / "etc/app").stat().st_mode & 0o777 == 0o750
    assert os.access(root / "usr/bin/app", os.X_OK)
    assert recorder.runs == ["reload", "restart"]  # once each, in declaration order
    second, recorder = run()
    assert second.count(Status.CHANGED) == 0, statuses(second)
    assert recorder.runs == []
    assert second.line() == "ok=5 changed=0 failed=0 skipped=1"


@pytest.mark.parametrize(
    ("change", "expect_changed", "expect_handlers", "diff_line"),
    [
        ({"port": 9090}, {"config"}, ["reload"], "+port = 9090"),
        ({"name": "other"}, {"config"}, ["reload"], "+name = other"),
        ({"tls": True}, {"only with tls"}, [], None),
    ],
)
def test_a_changed_input_changes_only_its_task(
    world, change, expect_changed, expect_handlers, diff_line
):
    _, _, run = world
    run()
    summary, recorder = run(**change)
    changed = {r.task for r in summary.results if r.status is Status.CHANGED and not r.handler}
    assert changed == expect_changed
    assert recorder.runs == expect_handlers
    if diff_line:
        [result] = [r for r in summary.results if r.task == "config"]
        [diff] = result.diffs
        assert diff_line in diff.unified().splitlines()


def test_a_changed_template_is_diffed_and_its_handler_runs_once(world):
    _, templates, run = world
    run()
    (templates / "app.service.j2").write_text("[Service]\nExecStart=/usr/bin/app --fast\n")
    (templates / "app.conf.j2").write_text("port = {{ port }}\nname = {{ name }}\nfast = 1\n")
    summary, recorder = run()
    assert recorder.runs == ["reload", "restart"]  # both notified "reload": still once
    diffs = {d.path.rsplit("/", 1)[-1]: d.unified() for r in summary.results for d in r.diffs}
    assert "+ExecStart=/usr/bin/app --fast" in diffs["app.service"].splitlines()
    assert "-ExecStart=/usr/bin/app" in diffs["app.service"].splitlines()
    assert "+fast = 1" in diffs["app.conf"].splitlines()


def test_mode_drift_is_repaired(world):
    root, _, run = world
    run()
    os.chmod(root / "etc/app/app.conf", 0o666)
    summary, _ = run()
    assert statuses(summary)["config"] == "changed"
    assert (root / "etc/app/app.conf").stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("stage", ["plan", "apply"])
def test_a_failing_task_stops_the_run_with_its_message(world, stage):
    root, _, run = world
    playbook = {
        "tasks": [
            PLAYBOOK["tasks"][1],  # config: changes, notifies reload
            {
                "name": "explode",
                "module": "fail",
                "args": {"message": "disk on fire", "when": stage},
            },
            PLAYBOOK["tasks"][3],
        ],
        "handlers": PLAYBOOK["handlers"],
    }
    (root / "etc/app").mkdir(parents=True)
    summary, recorder = run(playbook=playbook)
    assert summary.failed
    assert [r.task for r in summary.results] == ["config", "explode", "reload"]
    failed = summary.results[1]
    assert failed.status is Status.FAILED
    assert "disk on fire" in (failed.message or "")
    assert not (root / "usr/bin/app").exists()  # nothing after the failure ran
    assert recorder.runs == ["reload"]  # already-notified handlers still run


def test_an_unexpected_error_is_a_failure_not_a_traceback(world):
    _, _, run = world
    playbook = {
        "tasks": [
            {
                "name": "copy missing",
                "module": "copy",
                "args": {"src": "/nonexistent/x", "dest": "/x"},
            }
        ]
    }
    summary, _ = run(playbook=playbook)
    assert summary.failed and "not found" in (summary.results[0].message or "")


@pytest.mark.parametrize(
    ("playbook", "error"),
    [
        ({"tasks": [{"name": "x"}]}, "needs name and module"),
        ({"tasks": [{"name": "x", "module": "directory", "notify": ["nope"]}]}, "unknown handler"),
        ({"tasks": [{"name": "x", "module": "directory", "colour": 1}]}, "only args"),
    ],
)
def test_bad_playbooks_are_refused(playbook, error):
    with pytest.raises(PlaybookError, match=error):
        Playbook.from_dict(playbook)


def test_unknown_module_is_refused_before_anything_runs(world):
    root, _, run = world
    playbook = {"tasks": [PLAYBOOK["tasks"][0], {"name": "y", "module": "teleport"}]}
    with pytest.raises(PlaybookError, match="unknown module 'teleport'"):
        run(playbook=playbook)
    assert not (root / "etc/app").exists()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("{{ port }}", 8080),  # a lone expression keeps its type
        ("port {{ port }}", "port 8080"),
        (["{{ tls }}", "x"], [False, "x"]),
        ({"a": "{{ name }}-1"}, {"a": "app-1"}),
        ("plain", "plain"),
    ],
)
def test_render_value(value, expected):
    assert render_value(value, {"port": 8080, "tls": False, "name": "app"}) == expected
