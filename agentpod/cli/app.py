"""The one App object every command gets: settings, consoles, output and the control context."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from enum import IntEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # rich is imported when something is printed with it (start-up time)
    from rich.console import Console
    from rich.table import Table

    from agentpod.control.context import Context
    from agentpod.control.pod_reads import Rows
    from agentpod.core.authz import Principal
    from agentpod.settings import Settings


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2


class Failure(click.ClickException):
    """A one-line error for the user; exit 1 (or 2 for bad input)."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = int(code)

    def show(self, file: Any = None) -> None:
        click.echo(f"{click.style('error:', fg='red')} {self.message}", err=True)


FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format; JSON is stable and goes to stdout.",
)


class App:
    def __init__(self, debug: bool = False) -> None:
        self.debug = debug
        self._closing: list[Callable[[], None]] = []

    @cached_property
    def out(self) -> Console:
        from rich.console import Console

        out = Console(highlight=False, soft_wrap=True)
        if not out.is_terminal:  # piped: never cut cells to 80 columns
            out = Console(highlight=False, soft_wrap=True, width=240)
        return out

    @cached_property
    def err(self) -> Console:
        from rich.console import Console

        return Console(stderr=True, highlight=False, soft_wrap=True)

    @cached_property
    def settings(self) -> Settings:
        from agentpod.settings import load_settings

        try:
            return load_settings()
        except ValueError as exc:
            raise Failure(f"bad configuration: {exc}") from None

    @cached_property
    def ctx(self) -> Context:
        from agentpod.control.context import Context

        return Context(self.settings)

    @cached_property
    def reads(self) -> tuple[Rows, tuple[str, str]]:
        """Where ``pod list`` and ``status`` read pods: one connection of their own, or the
        store when the database needs migrating first."""
        from agentpod.control import pod_reads

        lean = pod_reads.for_cli(self.settings)
        if lean is None:
            return self.ctx.store, self.ctx.edge.url_parts()
        self._closing.append(lean[0].close)
        return lean

    @cached_property
    def caller(self) -> Principal:
        """The root CLI: all-powerful on this machine, audited as the OS user."""
        import getpass

        from agentpod.core.authz import Principal

        return Principal.root(getpass.getuser())

    @property
    def interactive(self) -> bool:
        return self.err.is_terminal and not self.err.is_dumb_terminal

    def info(self, message: str) -> None:
        """A message for people on stderr, shown as it is (never parsed as markup)."""
        click.echo(message, err=True)

    def ok(self, message: str) -> None:
        click.echo(f"{click.style('✓', fg='green')} {message}", err=True)

    def warn(self, message: str) -> None:
        click.echo(f"{click.style('!', fg='yellow')} {message}", err=True)

    def json(self, data: Any) -> None:
        if isinstance(data, list):  # one element a line: C-speed encoding, easy to grep
            lines = ",\n".join("  " + json.dumps(d, default=str) for d in data)
            sys.stdout.write(f"[\n{lines}\n]\n" if data else "[]\n")
            return
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")

    def table(self, table: Table | str) -> None:
        """A rich table, or plain text already laid out (big lists: rich is slow there)."""
        if isinstance(table, str):
            click.echo(table, nl=False)
        else:
            self.out.print(table)

    def emit(self, data: Any, fmt: str, render: Callable[[Any], Table | str]) -> None:
        """JSON on stdout, or the rendered table for people."""
        self.json(data) if fmt == "json" else self.table(render(data))

    def close(self) -> None:
        for close in self._closing:
            close()
        if "ctx" in self.__dict__:
            self.ctx.close()
