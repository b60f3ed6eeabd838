"""The shipped playbooks are well-formed: they load, use known modules, name existing templates,
and their arguments render with the install's variables."""

from __future__ import annotations

import pytest

from agentpod.install import plan
from agentpod.install.engine import FLUSH, Playbook, render_value
from agentpod.install.modules import MODULES


@pytest.mark.parametrize("name", ["install", "uninstall"])
def test_playbook_is_well_formed(name: str) -> None:
    book = Playbook.load(plan.resource_dir("playbook") / f"{name}.toml")
    variables = {**plan.variables({}), "pyz": "/tmp/agentpod.pyz"}
    templates = plan.resource_dir("templates")
    for task in (*book.tasks, *book.handlers):
        assert task.module == FLUSH or task.module in MODULES, task
        args = render_value(task.args, variables)
        if task.module == "template":
            assert (templates / args["src"]).is_file(), args["src"]
        assert "{{" not in str(render_value(task.name, variables))


def test_install_has_every_unit_and_handler() -> None:
    book = Playbook.load(plan.resource_dir("playbook") / "install.toml")
    dests = {str(t.args.get("dest", "")) for t in book.tasks}
    for unit in plan.UNITS:
        assert f"{{{{ unit_dir }}}}/{unit}" in dests
    assert book.handlers[0].name == "daemon-reload"  # before any restart
