"""The `cordmatch` command. Each command group lives in its own module and registers itself here.

Every CordmatchError is turned into a one-line red message and exit code 2: no traceback.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from cordmatch.errors import CordmatchError

app = typer.Typer(
    name="cordmatch",
    help="HLA typing to the right cord blood unit, and the bank that keeps the units. "
    "Decision support: it explains, people decide.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True, soft_wrap=True)


@app.callback()
def _root(
    ctx: typer.Context,
    data_dir: Annotated[
        str | None,
        typer.Option("--data-dir", help="Data directory (default: $CORDMATCH_DATA_DIR or the user data dir)."),
    ] = None,
) -> None:
    """cordmatch: HLA matching, cord blood unit selection and the bank. Decision support."""
    from cordmatch.bootstrap import build
    from cordmatch.config import Settings, using

    # the settings, read once (options over the environment), for this run; commands reach the
    # application through cli.common.application()
    settings = ctx.with_resource(using(Settings.from_env(data_dir=data_dir or None)))
    ctx.obj = build(settings)
    ctx.call_on_close(ctx.obj.close)


def _register_commands() -> None:
    # One line per command module; each module defines `register(app)`.
    from cordmatch.cli import (
        audit_cmd,
        bank_cmd,
        coverage_cmd,
        demo_cmd,
        din_cmd,
        grade_cmd,
        hla_cmd,
        indications_cmd,
        outcome_cmd,
        probability_cmd,
        scale_cmd,
        search_cmd,
        serve_cmd,
        sim_cmd,
    )

    for module in (
        hla_cmd,
        grade_cmd,
        demo_cmd,
        outcome_cmd,
        indications_cmd,
        din_cmd,
        audit_cmd,
        bank_cmd,
        probability_cmd,
        search_cmd,
        scale_cmd,
        serve_cmd,
        sim_cmd,
        coverage_cmd,
    ):
        module.register(app)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turning domain errors into clear messages and exit code 2."""
    try:
        app(args=argv, standalone_mode=True)
    except CordmatchError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[red]interrupted[/]")
        sys.exit(130)
