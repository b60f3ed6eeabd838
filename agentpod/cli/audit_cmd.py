"""``agentpod audit``: the latest rows of the audit log (who did what, from where, outcome)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from agentpod.cli.app import FORMAT, App

if TYPE_CHECKING:
    from rich.table import Table


@click.command()
@click.option("--tail", type=click.IntRange(min=1), default=20, show_default=True)
@FORMAT
@click.pass_obj
def audit(app: App, tail: int, fmt: str) -> None:
    """Show the latest audit rows: every write, refused ones too."""
    from agentpod.control import audit as audit_log

    rows = [e.as_dict() for e in audit_log.tail(app.ctx, app.caller, tail)]
    app.emit(rows, fmt, _table)


def _table(rows: list[dict[str, Any]]) -> Table:
    from agentpod.cli.output import simple_table

    def outcome(r: dict[str, Any]) -> str:
        return f"{r['outcome']}: {r['reason']}" if r["reason"] else r["outcome"]

    return simple_table(
        ["TIME", "ACTOR", "ACTION", "TARGET", "FROM", "OUTCOME"],
        [
            [
                str(r["at"])[:19],
                r["actor"],
                r["action"],
                r["target"],
                r["address"] or "-",
                outcome(r),
            ]
            for r in rows
        ],
    )
