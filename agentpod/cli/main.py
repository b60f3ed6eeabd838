"""The ``agentpod`` command: a thin shell over the control layer."""

from __future__ import annotations

import logging
import sys

import click

from agentpod import __version__
from agentpod.cli.app import App, ExitCode, Failure
from agentpod.cli.commands import register


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, envvar="AGENTPOD_DEBUG", help="Show tracebacks and logs.")
@click.version_option(__version__, prog_name="agentpod")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """AgentPod: run AI agents for many tenants, one isolated container per pod."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    app = App(debug)
    ctx.obj = app
    ctx.call_on_close(app.close)


register(cli)


def _user_errors() -> tuple[type[BaseException], ...]:
    from agentpod.control.context import WaitFailed
    from agentpod.core.adapters import ConfigError, UnknownAdapter
    from agentpod.core.configpath import ConfigPathError
    from agentpod.services.database import DatabaseUnavailable
    from agentpod.services.docker_runtime import RuntimeUnavailable
    from agentpod.services.store import StoreError

    return (
        StoreError,
        WaitFailed,
        ConfigError,
        UnknownAdapter,
        ConfigPathError,
        DatabaseUnavailable,
        RuntimeUnavailable,
    )


def main() -> None:
    debug = "--debug" in sys.argv[1:]
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(ExitCode.FAILURE)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        if debug:
            raise
        from agentpod.core.names import InvalidName

        if isinstance(exc, InvalidName):
            Failure(str(exc), ExitCode.USAGE).show()
            sys.exit(ExitCode.USAGE)
        if isinstance(exc, _user_errors()):
            Failure(str(exc)).show()
            sys.exit(ExitCode.FAILURE)
        Failure(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)").show()
        sys.exit(ExitCode.FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
