"""Helpers shared by CLI commands: the application they run on, the nomenclature with a progress bar,
JSON output, MAC files."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from cordmatch.cli.options import DbOpt, JsonOpt, MacsOpt
from cordmatch.errors import InvalidInputError

if TYPE_CHECKING:
    from cordmatch.bootstrap import Application
    from cordmatch.hla.mac import MacTable
    from cordmatch.hla.tables import NomenclatureTables

__all__ = ["DbOpt", "JsonOpt", "MacsOpt", "application", "load_macs", "load_tables", "print_json", "progress_bar"]

#: ``update(done, total, description=None)`` of a progress bar.
ProgressUpdate = Callable[..., None]

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@contextmanager
def progress_bar(description: str, total: int = 1, *, counts: bool = False) -> Iterator[ProgressUpdate]:
    """A Rich progress bar on stderr; yields ``update(done, total, description=None)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeElapsedColumn

    columns: list[ProgressColumn] = [TextColumn("[bold]{task.description}"), BarColumn()]
    if counts:
        columns.append(MofNCompleteColumn())
    columns.append(TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as bar:
        task = bar.add_task(description, total=max(total, 1))

        def update(done: int, total: int, description: str | None = None) -> None:
            if description is None:
                bar.update(task, completed=done, total=max(total, 1))
            else:
                bar.update(task, completed=done, total=max(total, 1), description=description)

        yield update


def application(**overrides: Any) -> Application:
    """The application this command runs on: the one the root command built from the settings.

    ``overrides``: settings a command's own options change (``db=`` from its ``--db``); when any is given
    (not None), an application built from the settings with them (closed when the command ends).
    """
    import click

    from cordmatch.bootstrap import Application, build
    from cordmatch.config import current

    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().obj if ctx is not None else None
    root = found if isinstance(found, Application) else None
    base = root if root is not None else build(current())
    if all(value is None for value in overrides.values()):
        return base
    built = build(base.settings.replace(**overrides))
    if ctx is not None:
        ctx.call_on_close(built.close)
    return built


def load_tables() -> NomenclatureTables:
    """The application's nomenclature tables; the first run builds them from the shipped release, with a
    progress bar."""
    from cordmatch.imgt.cache import cache_file
    from cordmatch.imgt.release import active_release

    app = application()
    s = app.settings
    if app.has_tables or cache_file(s.data_dir, active_release(s.hla_release, s.data_dir)).exists():
        return app.tables
    with progress_bar("building HLA nomenclature (first run only)") as update:
        return app.nomenclature(progress=lambda stage, done, total: update(done, total, f"{stage} (first run)"))


def load_macs(path: Path | None) -> MacTable | None:
    """Read a MAC file in NMDP's tab-separated format, or None."""
    if path is None:
        return None
    from cordmatch.hla.mac import parse_mac_lines

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(f"cannot read MAC file {path}: {exc.strerror}", where=str(path)) from exc
    return parse_mac_lines(text.splitlines(), source=str(path))


def print_json(data: Any) -> None:
    """Print JSON on stdout, nothing else."""
    print(json.dumps(data, indent=2, sort_keys=False))
