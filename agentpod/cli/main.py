"""The ``agentpod`` command: a thin shell over the control layer."""

from __future__ import annotations

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
    import logging  # here: --help and --version never need it (~20 ms of start-up)

    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    app = App(debug)
    ctx.obj = app
    ctx.call_on_close(app.close)


register(cli)


USER_ERRORS = [  # (module, class): errors shown as one line, without a traceback
    ("agentpod.services.errors", "StoreError"),
    ("agentpod.control.errors", "Forbidden"),
    ("agentpod.control.errors", "QuotaExceeded"),
    ("agentpod.control.access", "AccessError"),
    ("agentpod.control.context", "WaitFailed"),
    ("agentpod.core.adapters", "ConfigError"),
    ("agentpod.core.adapters", "UnknownAdapter"),
    ("agentpod.core.configpath", "ConfigPathError"),
    ("agentpod.services.database", "DatabaseUnavailable"),
    ("agentpod.services.docker_runtime", "RuntimeUnavailable"),
]


USAGE_ERRORS = [  # (module, class): bad input, shown as one line, exit 2
    ("agentpod.core.names", "InvalidName"),
    ("agentpod.control.errors", "BadInput"),
    ("agentpod.core.accounts", "AccountError"),
]


def _loaded(errors: list[tuple[str, str]]) -> tuple[type[BaseException], ...]:
    """Only from modules already imported: an error cannot come from one that is not (and
    importing it here would cost an error's start-up time, e.g. the Docker SDK's)."""
    return tuple(
        getattr(sys.modules[module], name) for module, name in errors if module in sys.modules
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
        if isinstance(exc, _loaded(USAGE_ERRORS)):
            Failure(str(exc), ExitCode.USAGE).show()
            sys.exit(ExitCode.USAGE)
        if isinstance(exc, _loaded(USER_ERRORS)):
            Failure(str(exc)).show()
            sys.exit(ExitCode.FAILURE)
        Failure(f"{type(exc).__name__}: {exc} (run with --debug for the traceback)").show()
        sys.exit(ExitCode.FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
